"""What every pass of one scan shares: the text, its lower-case copy, its digit runs and, when the
scanner asked them, the answers of the RE2 gates the passes use.

Each full-text regex costs 10-20 ns per character even when it finds nothing, so the passes
share one scan for digit runs and anchor their number-shaped patterns there, and test cue words
with `in` on the lower-case copy before running any regex that needs them.
"""

from __future__ import annotations

import re
from typing import Any

_DIGITS = re.compile(r"[0-9]+")  # ASCII: a bitmap test per character, faster than \d
# ASCII text (most of it) needs no regex at all: one translate in C turns each digit into "0" and
# everything else into " ", then `bytes.find` (memchr) jumps from run to run, ~1 us per KB where the
# regex steps through every character (~10 us per KB); the offsets are the same, one byte a character.
_DIGIT_MAP = bytes(ord("0") if 48 <= i <= 57 else ord(" ") for i in range(256))


def digit_runs(text: str) -> list[tuple[int, int]]:
    """[m.span() for m in _DIGITS.finditer(text)]: the (start, end) of each run of ASCII digits."""
    if not text.isascii():
        return [m.span() for m in _DIGITS.finditer(text)]
    marks = text.encode("ascii").translate(_DIGIT_MAP)
    # A table of numbers (a run every few characters) is read by the regex. Counting the runs (" 0")
    # costs ~3 us per KB, counting the digits (one byte) a tenth of that: there are at least as many
    # digits as runs, so the runs are counted only when the digits alone pass the bar.
    if (n := len(marks)) < marks.count(b"0") * 8 and n < marks.count(b" 0") * 8:
        return [m.span() for m in _DIGITS.finditer(text)]
    find = marks.find
    runs: list[tuple[int, int]] = []
    start = find(b"0")
    while start != -1:
        end = find(b" ", start)
        if end == -1:
            runs.append((start, len(marks)))
            break
        runs.append((start, end))
        start = find(b"0", end)
    return runs


# The RE2 gates over the lower-case text that several passes ask (entities' cue phrases, the id cue
# words): the scanner answers them all with one RE2 Set pass (`Text.gates`), about 2.5 us per KB
# where each gate's own search costs about 3.5 us.
NAME_CUES, ID_CUES, ZIP_CUES = 0, 1, 2


class Text:
    __slots__ = ("digits", "gates", "low", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.low = text.lower()
        # Ten substring tests cost less than one regex scan of text without digits (the common case).
        has_digits = any(d in text for d in "0123456789")
        self.digits: list[tuple[int, int]] = digit_runs(text) if has_digits else []
        self.gates: frozenset[int] | None = None  # the gates that match, when the scanner asked them at once

    def gate(self, index: int, pattern: Any) -> bool:
        """Whether the gate `pattern` (one of those numbered above) matches the lower-case text."""
        if self.gates is not None:
            return index in self.gates
        return pattern.search(self.low) is not None
