"""Dates (of birth, of events), times and ages.

Numeric dates and times are recognised by shape and checked for a real calendar value; a bare
year and a bare number need a cue ("born in 1984", "aged 41", "a 65-year-old").
"""

from __future__ import annotations

import re

from fireline.pii.lexicon import words
from fireline.pii.text import Text

DATE_TIME = "DATE_TIME"
AGE = "AGE"

Span = tuple[str, int, int]

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?:\s?[ap]\.?m\.?)?)?"
# 2020-06-20, 20.06.2020, 6/24/1991, 24/06/91, each with an optional time.
_NUMERIC_DATE = re.compile(
    rf"(?<![\w/.:-])(?:(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}})|"
    rf"(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y2>(?:19|20)?\d\d)){_TIME}(?![\w/-]|\.\d)"
)
# Anchored at a day number: "14 March 2024", "3rd of March"; at a month name: "March 14, 2024", "March 2024".
_DAY_FIRST = re.compile(
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+(?:19|20)\d\d)?(?![\w])", re.I
)
_MONTH_FIRST = re.compile(
    rf"{_MONTH}\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?|,?\s+(?:19|20)\d\d)(?![\w])", re.I
)
_MONTH_BEFORE = re.compile(rf"(?<![\w]){_MONTH}\.?,?\s+$", re.I)
_CLOCK = re.compile(r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[AaPp]\.?[Mm]\.?)?(?![\w:])|"
                    r"(?:1[0-2]|0?[1-9])\s?[AaPp]\.?[Mm]\.?(?!\w)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_BY_STEM = {w[-6:-3]: w for w in _WEEKDAYS}  # the three letters before "day"
_YEAR_CUES = words("""
in since from until till by of year born founded established circa around during before after
between and early late mid summer winter spring autumn fall class a the
""")
# An age: a number with years-old phrasing after it, or an age word before it.
_AGE_AFTER = re.compile(r"(?:\s*|-)(?:years?|yrs?|yo|y/o|y\.o\.)(?:(?:\s*|-)old)?(?!\w)", re.I)
_AGE_BEFORE = re.compile(
    r"\b(?:aged?|age:|age is|ages|turn(?:ed|ing|s)?|i'?m|i am|he'?s|she'?s|he is|she is|they'?re|is now|"
    r"(?:when|since|until) (?:i|he|she|we|they) (?:was|were))\s+$"
)
_BIRTH = re.compile(r"(?:born|birth(?:day|date)?|dob|d\.o\.b\.?)\W{0,3}(?:on|is|:|was)?\W{0,3}$")
_UNITS_AFTER = ("min", "hou", "sec", "day", "wee", "mon", "tim", "ite", "of ", "per", "pag", "%", "x ", "km", "kg")


def _valid_dmy(a: int, b: int) -> bool:
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def find_dates(t: Text, out: list[Span]) -> None:
    """Append DATE_TIME and AGE spans to out: number-shaped ones anchored at digit runs."""
    text, low = t.text, t.low
    n = len(text)
    taken = -1
    for s, e in t.digits:
        if s < taken:
            continue
        if s > 0 and (text[s - 1].isalpha() or text[s - 1] == "_"):
            continue
        nxt = text[e] if e < n else ""
        if nxt in "-/." and e + 1 < n and text[e + 1].isdigit():
            m = _NUMERIC_DATE.match(text, s)
            if m:
                if m.group("y"):
                    ok = 1 <= int(m.group("m")) <= 12 and 1 <= int(m.group("d")) <= 31
                else:
                    ok = _valid_dmy(int(m.group("a")), int(m.group("b")))
                if ok:
                    out.append((DATE_TIME, m.start(), m.end()))
                    taken = m.end()
                continue
        if e - s <= 2 and (nxt == ":" or low[e : e + 3].lstrip()[:1] in ("a", "p")):
            m = _CLOCK.match(text, s)
            if m and (s == 0 or text[s - 1] not in ":."):
                out.append((DATE_TIME, s, m.end()))
                taken = m.end()
                continue
        if e - s <= 2:
            m = _DAY_FIRST.match(text, s)
            if m:
                out.append((DATE_TIME, s, m.end()))
                taken = m.end()
                continue
        mb = _MONTH_BEFORE.search(low, max(0, s - 12), s) if s and text[s - 1] == " " else None
        if mb:
            m = _MONTH_FIRST.match(text, mb.start())
            word = text[mb.start() : s].strip()
            # "may 5" is rarely a date when "may" is the verb: demand the capital for May and March.
            if m and not (word[:3].lower() in ("may", "mar") and word[0].islower() and e - s <= 2):
                out.append((DATE_TIME, mb.start(), m.end()))
                taken = m.end()
                continue
        if e - s == 4 and text[s : s + 2] in ("19", "20") and not (nxt.isalnum() or nxt == "-"):
            before = low[max(0, s - 16) : s].split()
            if before and (before[-1].strip("(,") in _YEAR_CUES or _BIRTH.search(low, max(0, s - 20), s)):
                out.append((DATE_TIME, s, e + (1 if text[e : e + 1] == "s" else 0)))
            continue
        if e - s <= 3 and 0 < int(text[s:e]) <= 125:
            if nxt in (" ", "-", "y", "Y") and _AGE_AFTER.match(text, e):
                out.append((AGE, s, e))
                continue
            if s and text[s - 1] == " " and _AGE_BEFORE.search(low, max(0, s - 14), s):
                after = low[e : e + 12].lstrip()
                if not after.startswith(_UNITS_AFTER) and not (nxt and nxt in ".,/:" and text[e + 1 : e + 2].isdigit()):
                    out.append((AGE, s, e))
    i = low.find("day")
    while i != -1:
        # Each "day" once, checked for a weekday name just before it ("yesterday", "days" are not).
        j = i + 3
        name = _WEEKDAY_BY_STEM.get(low[i - 3 : i]) if i >= 3 and (j == n or not low[j].isalpha()) else None
        if name:
            k = i + 3 - len(name)
            if k >= 0 and low.startswith(name, k) and (k == 0 or not low[k - 1].isalpha()):
                out.append((DATE_TIME, k, j))
        i = low.find("day", j)
