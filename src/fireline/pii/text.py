"""What every pass of one scan shares: the text, its lower-case copy and its digit runs.

Each full-text regex costs 10-20 ns per character even when it finds nothing, so the passes
share one scan for digit runs and anchor their number-shaped patterns there, and test cue words
with `in` on the lower-case copy before running any regex that needs them.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")  # ASCII: a bitmap test per character, faster than \d


class Text:
    __slots__ = ("digits", "low", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.low = text.lower()
        # Ten substring tests cost less than one regex scan of text without digits (the common case).
        has_digits = any(d in text for d in "0123456789")
        self.digits: list[tuple[int, int]] = [m.span() for m in _DIGITS.finditer(text)] if has_digits else []
