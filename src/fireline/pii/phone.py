"""Phone-number classification of a numeric candidate, validated with `phonenumbers`.

`phonenumbers.parse` costs ~25 us, too much for the hot path, so the country code is split off
here and a `PhoneNumber` is built directly: `is_possible_number` then costs ~2 us, and the
~18 us `is_valid_number` is reached only for ambiguous US-shaped numbers without context.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber

# "+CC ...", "(0)" trunk marker allowed after the country code, as Europeans write it.
_TRUNK = re.compile(r"\(0\)")
# NANP: optional +1 / 1 / 001 prefix, then 3-3-4 with the usual separators.
_US_SHAPE = re.compile(r"(?:\+?1[ .-]?|001[ .-]?)?(?:\((\d{3})\) ?|(\d{3})[ .-])(\d{3})[ .-]\d{4}")
_DATE_SHAPE = re.compile(r"(?:19|20)\d\d([-./ ])(?:0?[1-9]|1[0-2])\1\d\d|\d\d([-./])\d\d\2(?:19|20)\d\d")
_GROUP_SPLIT = re.compile(r"[ .()-]+")

# Words that, just before or after a number, say it is a phone number. Without one of them a
# non-US national number ("0490 75 40 81") is indistinguishable from an order or account id.
_CONTEXT_BEFORE_WORDS = (
    "phone", "tel", "mobile", "cell", "fax", "desk", "call", "dial", "text me", "sms",
    "messag", "whatsapp", "contact", "reach", "answer", "ring", "hotline",
)  # fmt: skip
# "office" only counts after the number ("... 416 60 039 office"): before one it usually
# introduces a street address ("our office is at 17031 2202 Rissik St").
_CONTEXT_AFTER_WORDS = ("office", "fax", "mobile", "cell", "phone", "home", "work", "tel")
_CONTEXT_BEFORE = 40
_CONTEXT_AFTER = 12


def _has_context(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _CONTEXT_BEFORE) : start].lower()
    if any(w in before for w in _CONTEXT_BEFORE_WORDS):
        return True
    after = text[end : end + _CONTEXT_AFTER].lower()
    return any(w in after for w in _CONTEXT_AFTER_WORDS)


def _country_code(digits: str) -> int | None:
    for n in (1, 2, 3):
        cc = int(digits[:n])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return cc
    return None


def _international_ok(number: str) -> bool:
    digits = "".join(ch for ch in _TRUNK.sub("", number) if ch.isdigit())
    if not 8 <= len(digits) <= 15:
        return False
    cc = _country_code(digits)
    if cc is None:
        return False
    national = digits[len(str(cc)) :]
    return bool(national) and phonenumbers.is_possible_number(
        PhoneNumber(country_code=cc, national_number=int(national))
    )


def _us_ok(national10: str) -> bool:
    number = PhoneNumber(country_code=1, national_number=int(national10))
    return phonenumbers.is_valid_number(number)


def is_phone(number: str, text: str, start: int, end: int) -> bool:
    """Whether `number` (text[start:end], extension included) is a phone number.

    +CC numbers pass on `is_possible_number`; NANP-shaped numbers on their shape and either a
    context word or `is_valid_number`; other national formats (7-12 digits in groups) only with
    a context word nearby.
    """
    main = number.split("x", 1)[0].rstrip(" .-")
    digits = "".join(ch for ch in main if ch.isdigit())
    n = len(digits)
    if n < 7 or n > 15:
        return False
    if main.startswith("+"):
        return _international_ok(main)
    if main.startswith("00") and not main.startswith("001"):
        return _international_ok(main[2:])
    if _DATE_SHAPE.fullmatch(main):
        return False
    us = _US_SHAPE.fullmatch(main)
    if us:
        area = us.group(1) or us.group(2)
        if area[0] not in "01" and us.group(3)[0] not in "01":
            return _has_context(text, start, end) or _us_ok(digits[-10:])
        # Not NANP ("083 564 9312"): judged below like any other national number.
    if n > 12:
        return False
    groups = [g for g in _GROUP_SPLIT.split(main) if g]
    if len(groups) > 1 and max(len(g) for g in groups) > 8:
        return False
    return _has_context(text, start, end)
