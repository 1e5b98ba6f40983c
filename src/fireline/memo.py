"""Results of pure per-text work (the privacy pass's spans, the language of a sample) remembered for
texts that come back: conversation history re-sent on every turn, templated answers, refusals,
fallbacks, the same question asked again.

Keyed by a BLAKE2b-128 digest of the text under a random per-process key, so the memo holds no text
and no digest anyone could match outside the process; a hit is the answer the work gave for that
exact text (a false hit needs a 128-bit collision). Bounded: emptied when full, one C call that is
safe while other threads look up or add.
"""

from __future__ import annotations

import hashlib
import os
from typing import Generic, TypeVar

V = TypeVar("V")

_KEY = os.urandom(16)


class TextMemo(Generic[V]):
    """A bounded map from a text (by its keyed digest) to what a pure function of it answered."""

    __slots__ = ("_seen", "limit")

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._seen: dict[bytes, V] = {}

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, key=_KEY).digest()

    def get(self, key: bytes) -> V | None:
        return self._seen.get(key)

    def put(self, key: bytes, value: V) -> None:
        if len(self._seen) >= self.limit:
            self._seen.clear()
        self._seen[key] = value

    def clear(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
