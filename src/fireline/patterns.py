"""Regular expressions from users (block patterns, config markers, policies), in linear time.

Python's `re` backtracks: `(a+)+$` over 26 characters froze the server for seconds. Every
pattern a user supplies is compiled with RE2 (google-re2), whose matching time is linear in the
text; what RE2 cannot compile (lookarounds, backreferences) is refused with an error naming
the field, never run with a backtracking engine. Fireline's own vetted patterns keep `re`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import re2

from fireline.errors import Invalid

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print the refused pattern to stderr
_OPTIONS.max_mem = 8 << 20  # a bound on the compiled program: a huge pattern is refused, not built
_UNANCHORED = re2._Anchor.UNANCHORED


class Pattern(Protocol):
    """The part of a compiled pattern Fireline uses (re.Pattern and RE2 both have it)."""

    @property
    def pattern(self) -> Any: ...

    def search(self, text: str, pos: int = ..., endpos: int = ..., /) -> Any: ...

    def finditer(self, text: str, pos: int = ..., endpos: int = ..., /) -> Any: ...

    def match(self, text: str, pos: int = ..., endpos: int = ..., /) -> Any: ...


class LinearPattern(Pattern, Protocol):
    """An RE2 pattern: it also reads bytes (a str is read as its UTF-8 encoding; offsets are then bytes')."""

    def search(self, text: str | bytes, pos: int = ..., endpos: int = ..., /) -> Any: ...


class InvalidPattern(Invalid, ValueError):
    """A pattern RE2 refuses (422 naming the field; a ValueError for config checks)."""


def compile_linear(pattern: Any, field: str) -> LinearPattern:
    """`pattern` compiled with RE2, or InvalidPattern naming `field` and why."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidPattern(f"{field}: must be a non-empty regular expression", field=field)
    try:
        compiled: LinearPattern = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise InvalidPattern(
            f"{field}: not accepted ({why}); patterns run on RE2 in linear time, so lookarounds such as "
            "(?=...) or (?!...) and backreferences such as \\1 are not supported", field=field) from None
    return compiled


def matches(pattern: Any, text: str) -> Iterator[tuple[str, int, int]]:
    """(matched text, start, end) of each `pattern.finditer(text)` match. An RE2 pattern reads ASCII
    text as bytes (the same offsets, one byte a character): over a str, RE2's wrapper maps every
    match back to character offsets in Python, about 3 us a match where text is matched often."""
    if isinstance(pattern, re2._Regexp) and text.isascii():
        # The wrapper's `finditer` loop over bytes, without a match object per match (~1 us each):
        # the same calls to the compiled RE2 and the same steps past an empty match.
        find, data, pos, endpos = pattern._regexp.Match, text.encode("ascii"), 0, len(text)
        while True:
            start, end = find(_UNANCHORED, data, pos, endpos)[0]
            if start == -1:
                return
            yield text[start:end], start, end
            if pos == endpos:
                return
            pos = pos + 1 if pos == end else end
    else:
        for m in pattern.finditer(text):
            yield m.group(), m.start(), m.end()
