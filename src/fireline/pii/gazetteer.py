"""The large word lists, read once from data/gazetteer.txt.gz (built by scripts/build_gazetteer.py).

Everything is lower case. `word_rank(w)` is log2 of the word's frequency in English text (0 when
unknown): a capitalised token that is also a frequent English word ("Will", "Grant", "Mobile")
needs more evidence than one that is not.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Gazetteer:
    given: frozenset[str]
    surname: frozenset[str]
    place: frozenset[str]  # one or more words, joined by single spaces
    place_heads: frozenset[str]  # first word of every multi-word place
    words: dict[str, int]  # English word -> log2 frequency
    foreign: frozenset[str] = frozenset()  # frequent words of other European languages (no names)
    foreign_common: frozenset[str] = frozenset()  # their most frequent words, names included


_lock = threading.Lock()
_loaded: Gazetteer | None = None


def _read() -> Gazetteer:
    raw = resources.files("fireline.pii").joinpath("data/gazetteer.txt.gz").read_bytes()
    sections: dict[str, list[str]] = {}
    for block in gzip.decompress(raw).decode().split("\n@")[1:]:
        head, _, body = block.partition("\n")
        sections[head] = body.split("\n")
    words: dict[str, int] = {}
    for head, items in sections.items():
        if head.startswith("word "):
            words.update(dict.fromkeys(filter(None, items), int(head[5:])))
    given, surname, place, foreign, foreign_common = (
        frozenset(filter(None, sections.get(k, ()))) for k in ("given", "surname", "place", "foreign", "foreign_common")
    )
    heads = frozenset(p.split(" ", 1)[0] for p in place if " " in p)
    return Gazetteer(given, surname, place, heads, words, foreign, foreign_common)


def get() -> Gazetteer:
    """The gazetteer, loaded on first use (about 0.3 s) and shared by every thread."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _read()
    return _loaded
