"""A request's user against a control's `scope.user`, without the user id ever being stored.

`scope.user` holds the keyed pseudonym (the one calls carry, so erasure and the blast radius find
it) and `scope.user_match` a digest of the user under the deployment's public match salt, which
SDKs without the secret compare against (`controls.identity` writes both).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

PSEUDONYM = re.compile(r"u_[0-9a-f]{40}")
MATCH = re.compile(r"m_[0-9a-f]{40}")
ERASED = "u_erased"  # scope.user of a control whose user was erased: it matches no one


def user_digest(salt: str, user: str) -> str:
    """What `scope.user_match` holds for `user` (SHA-256 under the published match salt)."""
    return "m_" + hashlib.sha256(f"{salt}\x00{user}".encode()).hexdigest()[:40]


class UserRef:
    """A request's user as the matchers need it, each form computed at most once."""

    __slots__ = ("raw", "_salt", "_pseudonymize", "_digest", "_pseudonym")

    def __init__(self, raw: str | None, salt: str | None = None,
                 pseudonymize: Callable[[str], str] | None = None) -> None:
        self.raw, self._salt, self._pseudonymize = raw, salt, pseudonymize
        self._digest: str | None = None
        self._pseudonym: str | None = None

    def digest(self) -> str | None:
        if self._digest is None and self.raw is not None and self._salt:
            self._digest = user_digest(self._salt, self.raw)
        return self._digest

    def pseudonym(self) -> str | None:
        if self._pseudonym is None and self.raw is not None and self._pseudonymize is not None:
            self._pseudonym = self._pseudonymize(self.raw)
        return self._pseudonym

    def matches(self, scope: Mapping[str, str]) -> bool:
        if "user_match" in scope:
            return self.raw is not None and self.digest() == scope["user_match"]
        wanted = scope["user"]
        if wanted == ERASED:
            return False
        if PSEUDONYM.fullmatch(wanted):  # made from a pseudonym: only a process with the secret knows
            return self.pseudonym() == wanted
        return self.raw == wanted  # stored before pseudonymised scopes
