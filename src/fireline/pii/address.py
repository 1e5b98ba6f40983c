"""Street addresses from their structure: house number, street words and type, unit, city, zip.

A core is found first (a number with a street type, a street-type word with a number, a compound
street name such as "Hammarvägen 15", a unit such as "Apt. 4", a "City, ST 12345" line), then
it grows over what commonly follows on the same or the next lines: unit, city, region code, zip
and country. The whole block is one STREET_ADDRESS span.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from fireline.pii.lexicon import STREET_ENDINGS, STREET_WORDS, UNIT_WORDS
from fireline.pii.text import ZIP_CUES, Text

STREET_ADDRESS = "STREET_ADDRESS"
ZIP_CODE = "ZIP_CODE"

Span = tuple[str, int, int]

_UPPER = "".join(chr(c) for c in range(0x41, 0x2000) if chr(c).isupper() or chr(c).istitle())
_CAP = rf"[{_UPPER}][\w'’.-]*"
_WORD = r"[^\W_][\w'’.-]*"
_NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"
_TYPES_AFTER = sorted((w.rstrip(".") for w in STREET_WORDS), key=len, reverse=True)
_TYPE_ALT = "|".join(re.escape(w) for w in _TYPES_AFTER)
# 12 Botley Road, 1317 Kimberly Way, 33 avenue de Provence, 224 4966 Bond Street
_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,/-])(?:{_NUM}\s+){{1,2}}(?:{_CAP}\s+){{0,4}}?(?:{_TYPE_ALT})\.?(?![\w-])"
    rf"(?:\s+(?:(?:de|du|des|la|le|di|del|della|da|do|dos|das|of)\s+)?{_CAP}){{0,4}}",
    re.I,
)
# Tylova 285 after a leading number (the "4596 Tylova 285" building-number form)
_NUM_NAME_NUM = re.compile(rf"(?<![\w.,/-])\d{{1,6}}\s+[{_UPPER}][\w'’.-]+(?:\s+{_CAP}){{0,3}}\s+{_NUM}(?![\w-])")
_UNIT = re.compile(
    r"(?<![\w-])(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building|p\.?\s?o\.?\s?box|box)"
    r"\.?\s*(?:no\.?\s*|#\s*)?\d{1,6}[A-Za-z]?(?![\w-])",
    re.I,
)
_UNIT_BEFORE = re.compile(
    r"(?<![\w-])(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building|p\.?\s?o\.?\s?box|box)"
    r"\.?\s*(?:no\.?\s*|#\s*)?$",
    re.I,
)
_STATE_ZIP_BEFORE = re.compile(rf"(?<![\w])[{_UPPER}][\w'’.-]*(?:\s[{_UPPER}][\w'’.-]*){{0,3}},\s+[A-Z]{{2}}\s+$")
_CORNER = re.compile(r"\b(?:the\s+)?corner\s+of\s+", re.I)
# What may follow an address on the next segments: units, places, region codes, zips, countries.
# Postcode shapes: 12345, 12345-6789, 123 45 (SE, CZ, SK, GR), 12-345 (PL), 1234 AB (NL), 12345-678 (BR).
_ZIP = r"(?:\d{2}-\d{3}|\d{3,6}(?:[- ]\d{2,4})?|\d{4} ?[A-Z]{2})"
_TAIL_SEGMENT = re.compile(
    rf"(?:[,\n][\s>?*•|-]*|\s+)(?:(?i:{_UNIT.pattern})|{_ZIP}(?![\w-]|\s?\d)|"
    rf"(?:{_CAP}(?:\s+(?:{_CAP}|nad|an|am|de|du|la|le|sur|upon|on)){{0,4}})"
    rf"(?:\s+{_ZIP}(?![\w-]|\s?\d))?(?![\w-])|"
    rf"nan(?!\w))"
)
_LOWER_START = re.compile(r"[a-z]")
_POSTCODE_UK = re.compile(r"(?<![\w])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?!\w)")
_POSTCODE_CA = re.compile(r"(?<![\w])[A-Z]\d[A-Z]\s?\d[A-Z]\d(?!\w)")
# Whether the lower-case text names a zip or postal code (the scanner asks it with its other RE2 gates,
# in one pass, where five substring tests each read the text).
_ZIP_GATE = re.compile(r"zip|postal|postcode|post code|plz")
_ZIP_CUE = re.compile(
    r"\b(?:zip|postal|postcode|post code|plz|c\.?a\.?p\.?|c\.?p\.?)(?:\s?code)?\b\W{0,3}(?:is\s+)?"
    r"(\d{3,5}(?:[- ]\d{2,4})?|[A-Z0-9]{2,4}\s?[A-Z0-9]{3})(?!\w)",
    re.I,
)


def _tail(text: str, end: int, limit: int = 4) -> int:
    """Extend an address over the unit, city, region, zip and country segments that follow."""
    after_zip = text[end - 1 : end].isdigit()
    for _ in range(limit):
        m = _TAIL_SEGMENT.match(text, end)
        if not m or m.end() - end > 60:
            break
        seg = m.group().lstrip(",\n >?*•|-")
        sep = m.group()[: len(m.group()) - len(seg)]
        if "\n\n" in sep:
            break
        if _LOWER_START.match(seg) and not _UNIT.match(seg) and seg != "nan":
            break
        # On the same line only a number, a unit, or the city after a zip ("69003 Lyon") follow.
        if "\n" not in sep and "," not in sep and not (seg[:1].isdigit() or _UNIT.match(seg) or after_zip):
            break
        end = m.end()
        after_zip = seg[-1:].isdigit()
    return end


_ENDING_TUPLE = tuple(STREET_ENDINGS)
_ANY_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_LEAD_NUMBER = re.compile(r"(?<![\w.,/-])\d{1,6}\s+$")
_TYPE_WORDS = frozenset(w.rstrip(".").lower() for w in STREET_WORDS)


# Street-type words of the lower-case text are found over bytes: the ASCII letters kept, every other
# character a space (non-ASCII ones through encode's "?"), so each whole run of letters is a word.
_LETTER_MAP = bytes(i if 97 <= i <= 122 else 32 for i in range(256))
_TYPE_BYTES = frozenset(w.encode() for w in _TYPE_WORDS if w.isascii())
_TYPE_NON_ASCII = tuple(w for w in _TYPE_WORDS if not w.isascii())


class _TypeWords:
    """Where the street-type words of one text start, each a whole run of letters (any case).

    `marks` is the lower-case text as bytes, its ASCII letters kept and every other character a
    space (non-ASCII ones through encode's "?"), so each whole run of letters is one word and the
    offsets are the text's. A type word among the words of a window before a number (as
    `_street_before` lists them) is such a run, unless it is the cut-off tail of a word that straddles
    the window's start, which `may_hold` checks on its own. A non-ASCII letter taken for a space only
    adds candidates. Indexed once per text (~5 us per KB) where listing the words of every number's
    window costs ~10 us per number; a text's first few windows list their runs of letters instead.
    """

    __slots__ = ("asked", "marks", "starts")

    def __init__(self, marks: bytes) -> None:
        self.marks = marks
        self.starts: list[int] | None = None  # indexed when a text has asked about many windows
        self.asked = 0

    def _index(self) -> list[int]:
        marks = self.marks
        starts: list[int] = []
        for w in _TYPE_BYTES.intersection(marks.split()):
            i = marks.find(w)
            while i != -1:
                end = i + len(w)
                if (i == 0 or marks[i - 1] == 32) and (end == len(marks) or marks[end] == 32):
                    starts.append(i)
                i = marks.find(w, i + 1)
        starts.sort()
        return starts

    @classmethod
    def of(cls, t: Text) -> _TypeWords | None:
        """The type words of t, or None when unknown: a type word with non-ASCII letters is in the text,
        or the lower-case copy's offsets differ from the text's ("İ" lowers to two characters)."""
        low = t.low
        if len(low) != len(t.text):
            return None
        if low.isascii():
            return cls(low.encode("ascii").translate(_LETTER_MAP))
        if any(w in low for w in _TYPE_NON_ASCII):
            return None
        return cls(low.encode("ascii", "replace").translate(_LETTER_MAP))

    def may_hold(self, ws: int, s: int) -> bool:
        """Whether a word of text[ws:s] (as `_ANY_WORD` lists them) may be a street-type word."""
        starts = self.starts
        if starts is None:
            marks = self.marks
            # The first windows of a text (most texts have a few numbers) list their own runs of letters
            # (~1 us) instead of indexing the whole text's (~5 us per KB). Where a space ends the window,
            # as before a house number, its runs are the whole runs that start in it, and the tail of one
            # that straddles its start: what the index and the straddle test below answer.
            if self.asked < 8 and 0 <= ws < s <= len(marks) and marks[s - 1] == 32:
                self.asked += 1
                return not _TYPE_BYTES.isdisjoint(marks[ws:s].split())
            starts = self.starts = self._index()
        i = bisect_left(starts, ws)
        if i < len(starts) and starts[i] < s:
            return True
        marks = self.marks
        if ws and marks[ws - 1] != 32 and marks[ws] != 32:  # the window starts inside a run of letters
            end = marks.find(b" ", ws)
            return marks[ws : end if end != -1 else len(marks)] in _TYPE_BYTES
        return False


def _street_before(text: str, s: int, types: _TypeWords | None = None) -> int:
    """Start of a street name that ends just before the number at s ("Hammarvägen 15", "Rue de X 3"), or -1.

    types lets a number whose window holds no street-type word skip listing the window's words.
    """
    j = s
    while j > 0 and text[j - 1] == " ":
        j -= 1
    if j == s:
        return -1
    i = j
    while i > 0 and (text[i - 1].isalpha() or text[i - 1] in "'’.-"):
        i -= 1
    word = text[i:j].lower()
    if not word:
        return -1
    if len(word) > 4 and word.endswith(_ENDING_TUPLE):
        return i
    # A street type up to six words before the number: "Rua Vinte e Cinco de Setembro 1257".
    if types is not None and not types.may_hold(max(0, s - 70), s):
        return -1
    window = text[max(0, s - 70) : s]
    words = list(_ANY_WORD.finditer(window))[-7:]
    for k, w in enumerate(words[:-1]):
        if w.group().rstrip(".").lower() in _TYPE_WORDS and len(words) - k >= 2:
            gap = window[w.end() : words[-1].end()]
            if "\n" in gap or "," in gap:
                continue
            if _type_first_ok(window[w.start() :] + " 1"):
                start = w.start()
                # English types follow the name ("Paris Street 4"): take the capitalised words before.
                while k > 0 and words[k - 1].group()[:1].isupper() and window[words[k - 1].end() : start] == " ":
                    k -= 1
                    start = words[k].start()
                return max(0, s - 70) + start
    return -1


def find_addresses(t: Text, out: list[Span]) -> None:
    """Append STREET_ADDRESS spans to out, each anchored at a number (house, unit or zip)."""
    if not t.digits:
        return
    text, low = t.text, t.low
    found: list[tuple[int, int]] = []
    types: _TypeWords | None = None  # found for the first number that asks
    looked = False
    for s, e in t.digits:
        if e - s > 6 or (s > 0 and (text[s - 1].isalpha() or text[s - 1] in "_.,/:-")):
            continue  # house numbers, units and zips have at most 6 digits
        # 12 Botley Road / 33 avenue de Provence (house number first)
        m = _NUMBER_FIRST.match(text, s)
        if m and _number_first_ok(text, m):
            found.append(m.span())
        m = _NUM_NAME_NUM.match(text, s)
        if m:
            after = text[m.end() : m.end() + 40]
            before = low[max(0, m.start() - 40) : m.start()].replace("_address>", ">")
            if _UNIT.match(after.lstrip(" ,\n")) or "\n" in after[:3] or "address" in before \
                    or before[-4:] in (" at ", " on ", " to ") or "," in after[:2]:
                found.append(m.span())
        if not looked and s > 0 and text[s - 1] == " ":
            types, looked = _TypeWords.of(t), True
        st = _street_before(text, s, types)
        if st >= 0:
            end = e
            if end < len(text) and text[end].isalpha() and (end + 1 == len(text) or not text[end + 1].isalnum()):
                end += 1
            found.append((st, end))
        # Apt. 4 / Suite 727 / P.O. Box 12 (a unit word just before the number)
        if s > 1 and text[s - 1] in " #." and (text[s - 2].isalnum() or text[s - 2] in " #."):
            um = _UNIT_BEFORE.search(text, max(0, s - 20), s)
            if um:
                found.append((um.start(), e))
        # Springfield, IL 62704
        if s > 5 and text[s - 1] == " " and text[s - 3 : s - 1].isupper() and text[s - 5] == ",":
            cm = _STATE_ZIP_BEFORE.search(text, max(0, s - 60), s)
            if cm:
                found.append((cm.start(), e))
    if not found:
        return
    found.sort()
    merged: list[list[int]] = []
    for s, e in found:
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in merged:
        e = _tail(text, e)
        c = _CORNER.search(text, max(0, s - 20), s)
        if c and c.end() == s:
            s = c.start()
        # A house number standing before the street on the same line ("5049 Harjukuja 54").
        lead = _LEAD_NUMBER.search(text, max(0, s - 8), s)
        if lead:
            s = lead.start()
        out.append((STREET_ADDRESS, s, e))


def _type_first_ok(match: str) -> bool:
    word = match.split(None, 1)[0].rstrip(".").lower()
    # "st 5", "dr 3", "ave 2" without a name between are not addresses; "Way 2" neither.
    return len(match.split()) >= 3 and word not in ("st", "dr", "way", "pl", "ct", "ln", "rd", "cir", "path", "loop",
                                                    "park", "hill", "walk", "row", "ring", "place", "court",
                                                    "close", "square", "route", "circle", "trail", "grove")


def _number_first_ok(text: str, m: re.Match[str]) -> bool:
    # "4 place", "2 way", "3 lanes of traffic" are counts; the street name must be capitalised.
    words = m.group().split()
    names = [w for w in words[1:] if not w[0].isdigit()]
    if len(names) < 2:
        return False
    return names[0][0].isupper() or names[-1][0].isupper() or text[m.start() - 3 : m.start()].strip() in ("at", "on")


def find_postcodes(t: Text, out: list[Span]) -> None:
    """Postcodes with a shape of their own (UK, Canada) and any code after a zip/postal cue."""
    text = t.text
    for s, e in t.digits:
        if e - s > 2 or s == 0 or not text[s - 1].isupper():
            continue
        start = s - 2 if s >= 2 and text[s - 2].isupper() else s - 1
        for rx in (_POSTCODE_UK, _POSTCODE_CA):
            m = rx.match(text, start) or (rx.match(text, s - 1) if start != s - 1 else None)
            if m:
                out.append((ZIP_CODE, m.start(), m.end()))
                break
    if t.gate(ZIP_CUES, _ZIP_GATE):
        for m in _ZIP_CUE.finditer(text):
            if sum(ch.isdigit() for ch in m.group(1)) >= 3:
                out.append((ZIP_CODE, m.start(1), m.end(1)))


__all__ = ["STREET_ADDRESS", "ZIP_CODE", "UNIT_WORDS", "find_addresses", "find_postcodes"]
