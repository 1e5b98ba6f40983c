"""Dates (of birth, of events), times and ages.

Numeric dates and times are recognised by shape and checked for a real calendar value; a bare
year and a bare number need a cue ("born in 1984", "aged 41", "a 65-year-old").
"""

from __future__ import annotations

import re

from fireline.pii.lexicon import words

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
_TEXT_DATE = re.compile(
    rf"(?<![\w])(?:(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+(?:19|20)\d\d)?)|"
    rf"(?:{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?(?!\d))|"
    rf"(?:{_MONTH}\.?,?\s+(?:19|20)\d\d))(?![\w])",
    re.I,
)
_WEEKDAY = re.compile(r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b", re.I)
_CLOCK = re.compile(r"(?<![\w:.])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[AaPp]\.?[Mm]\.?)?(?![\w:])|"
                    r"(?<![\w:.])(?:1[0-2]|0?[1-9])\s?[AaPp]\.?[Mm]\.?(?!\w)")
_YEAR = re.compile(r"(?<![\w.$€£-])(?:19|20)\d\d(?:s|'s)?(?![\w.-]\w)")
_DECADE = re.compile(r"(?<![\w.])(?:the\s+)?'?[2-9]0'?s\b", re.I)
_YEAR_CUES = words("""
in since from until till by of year born founded established circa around during before after
between and early late mid summer winter spring autumn fall class a the
""")
# An age: a number with years-old phrasing after it, or an age word before it.
_AGE_AFTER = re.compile(r"(?<![\w.])(\d{1,3})(?:\s*|-)(?:years?|yrs?|yo|y/o|y\.o\.)(?:(?:\s*|-)old)?(?!\w)", re.I)
_AGE_BEFORE = re.compile(
    r"\b(?:aged?|age:|age is|ages|turn(?:ed|ing|s)?|i'?m|i am|he'?s|she'?s|he is|she is|they'?re|is now)"
    r"\s+(\d{1,3})(?![\w.,/:]\d|\d|%)",
    re.I,
)
_MONTH_GATE = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")
_AGE_GATE = re.compile(r"\b(?:age|turn|i'?m|i am|he|she|they|is now)")
_BIRTH = re.compile(r"(?:born|birth(?:day|date)?|dob|d\.o\.b\.?)\W{0,3}(?:on|is|:|was)?\W{0,3}", re.I)


def _valid_dmy(a: int, b: int) -> bool:
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def find_dates(text: str, out: list[Span]) -> None:
    """Append DATE_TIME and AGE spans to out."""
    if "/" in text or "-" in text or "." in text:
        for m in _NUMERIC_DATE.finditer(text):
            if m.group("y"):
                ok = 1 <= int(m.group("m")) <= 12 and 1 <= int(m.group("d")) <= 31
            else:
                ok = _valid_dmy(int(m.group("a")), int(m.group("b")))
            if ok:
                out.append((DATE_TIME, m.start(), m.end()))
    low = text.lower()
    if _MONTH_GATE.search(low):
        for m in _TEXT_DATE.finditer(text):
            word = m.group().strip()
            # "may 5" is rarely a date when "may" is the verb; demand the capital for May/March alone.
            if word[:3].lower() in ("may", "mar") and not re.search(r"\d{4}|\d(?:st|nd|rd|th)", word) \
                    and not word[0].isdigit() and not word[0].isupper():
                continue
            out.append((DATE_TIME, m.start(), m.end()))
    if "day" in low:
        for m in _WEEKDAY.finditer(text):
            out.append((DATE_TIME, m.start(), m.end()))
    if ":" in text or "am" in low or "pm" in low or ".m" in low:
        for m in _CLOCK.finditer(text):
            out.append((DATE_TIME, m.start(), m.end()))
    for m in _YEAR.finditer(text):
        before = low[max(0, m.start() - 16) : m.start()].split()
        if before and (before[-1].strip("(,") in _YEAR_CUES or _BIRTH.search(low, max(0, m.start() - 20))):
            out.append((DATE_TIME, m.start(), m.end()))
    for m in _AGE_AFTER.finditer(text) if "y" in low else ():
        if 0 < int(m.group(1)) <= 125:
            out.append((AGE, m.start(1), m.end(1)))
    for m in _AGE_BEFORE.finditer(text) if _AGE_GATE.search(low) else ():
        n = int(m.group(1))
        if 0 < n <= 125:
            # "I'm 5 minutes late" is not an age: the next word must not be a unit.
            after = low[m.end(1) : m.end(1) + 12].lstrip()
            if after[:3] in ("min", "hou", "sec", "day", "wee", "mon", "tim", "ite", "of ", "per", "pag", "%"):
                continue
            out.append((AGE, m.start(1), m.end(1)))
