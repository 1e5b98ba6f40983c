"""Street addresses from their structure: house number, street words and type, unit, city, zip.

A core is found first (a number with a street type, a street-type word with a number, a compound
street name such as "Hammarvägen 15", a unit such as "Apt. 4", a "City, ST 12345" line), then
it grows over what commonly follows on the same or the next lines: unit, city, region code, zip
and country. The whole block is one STREET_ADDRESS span.
"""

from __future__ import annotations

import re

from fireline.pii.lexicon import STREET_ENDINGS, STREET_WORDS, UNIT_WORDS

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
# Rue de Piétrain 371, Rua Vinte e Cinco de Setembro 1257, Via Roma 5, ul. Długa 12
_TYPE_FIRST = re.compile(
    rf"(?<![\w-])(?:{_TYPE_ALT})\.?\s+(?:{_WORD}\s+){{0,6}}?{_NUM}(?![\w-])",
    re.I,
)
_ENDINGS = "|".join(re.escape(e) for e in sorted(STREET_ENDINGS, key=len, reverse=True))
# Hammarvägen 15, Asselsestraat 7, Harjukuja 54, Hauptstr. 5
_COMPOUND = re.compile(rf"(?<![\w-])(?:{_NUM}\s+)?[^\W\d_][\w'’-]*?(?:{_ENDINGS})\.?\s+{_NUM}(?![\w-])", re.I)
# Tylova 285 after a leading number (the "4596 Tylova 285" building-number form)
_NUM_NAME_NUM = re.compile(rf"(?<![\w.,/-])\d{{1,6}}\s+{_CAP}(?:\s+{_CAP}){{0,3}}\s+{_NUM}(?![\w-])")
_UNIT = re.compile(
    r"(?<![\w-])(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building|p\.?\s?o\.?\s?box|box)"
    r"\.?\s*(?:no\.?\s*|#\s*)?\d{1,6}[A-Za-z]?(?![\w-])",
    re.I,
)
# Springfield, IL 62704 / St Georges, QC 54256
_CITY_STATE_ZIP = re.compile(r"(?<![\w])[A-Z][\w'’.-]*(?:\s[A-Z][\w'’.-]*){0,3},\s+[A-Z]{2}\s+\d{4,6}(?:-\d{3,4})?(?!\w)")
_CORNER = re.compile(r"\b(?:the\s+)?corner\s+of\s+", re.I)
# What may follow an address on the next segments: units, places, region codes, zips, countries.
_TAIL_SEGMENT = re.compile(
    rf"(?:[,\n][\s>?*•|-]*|\s+)(?:(?i:{_UNIT.pattern})|(?:\d{{3,6}}(?:[- ]\d{{2,4}})?)(?![\w-])|"
    rf"(?:{_CAP}(?:\s+(?:{_CAP}|nad|an|am|de|du|la|le|sur|upon|on)){{0,4}})(?:\s+\d{{3,6}}(?:[- ]\d{{2,4}})?)?(?![\w-])|"
    rf"nan(?!\w))"
)
_LOWER_START = re.compile(r"[a-z]")
_POSTCODE_UK = re.compile(r"(?<![\w])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?!\w)")
_POSTCODE_CA = re.compile(r"(?<![\w])[A-Z]\d[A-Z]\s?\d[A-Z]\d(?!\w)")
_ZIP_CUE = re.compile(r"\b(?:zip|postal|postcode|post code|plz|c\.?a\.?p\.?|c\.?p\.?)(?:\s?code)?\b\W{0,3}(?:is\s+)?(\d{3,5}(?:[- ]\d{2,4})?|[A-Z0-9]{2,4}\s?[A-Z0-9]{3})(?!\w)", re.I)


def _tail(text: str, end: int, limit: int = 4) -> int:
    """Extend an address over the unit, city, region, zip and country segments that follow."""
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
        if "\n" not in sep and "," not in sep and not (seg[:1].isdigit() or _UNIT.match(seg)):
            break  # the same line goes on with ordinary words
        end = m.end()
    return end


def find_addresses(text: str, out: list[Span]) -> None:
    """Append STREET_ADDRESS (and ZIP_CODE) spans to out."""
    found: list[tuple[int, int]] = []
    has_digit = any(ch.isdigit() for ch in text)
    if not has_digit:
        return
    for rx in (_NUMBER_FIRST, _TYPE_FIRST, _COMPOUND, _UNIT, _CITY_STATE_ZIP):
        for m in rx.finditer(text):
            s, e = m.span()
            if rx is _TYPE_FIRST and not _type_first_ok(m.group()):
                continue
            if rx is _NUMBER_FIRST and not _number_first_ok(text, m):
                continue
            found.append((s, e))
    for m in _NUM_NAME_NUM.finditer(text):
        # Only where an address is already likely: a unit or a place line follows, or a cue precedes.
        after = text[m.end() : m.end() + 40]
        before = text[max(0, m.start() - 40) : m.start()].lower()
        if _UNIT.match(after.lstrip(" ,\n")) or "\n" in after[:3] or "address" in before or " at " in before[-8:] \
                or " on " in before[-8:] or " to " in before[-8:] or "," in after[:2]:
            found.append(m.span())
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
        lead = re.search(r"(\d{1,6})\s+$", text[max(0, s - 8) : s])
        if lead:
            s -= len(lead.group())
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


def find_postcodes(text: str, out: list[Span]) -> None:
    """Postcodes with a shape of their own (UK, Canada) and any code after a zip/postal cue."""
    for rx in (_POSTCODE_UK, _POSTCODE_CA):
        for m in rx.finditer(text):
            out.append((ZIP_CODE, m.start(), m.end()))
    low = text.lower()
    if "zip" in low or "post" in low or "plz" in low or "cap" in low or "cp" in low:
        for m in _ZIP_CUE.finditer(text):
            if sum(ch.isdigit() for ch in m.group(1)) >= 3:
                out.append((ZIP_CODE, m.start(1), m.end(1)))


__all__ = ["STREET_ADDRESS", "ZIP_CODE", "UNIT_WORDS", "find_addresses", "find_postcodes"]
