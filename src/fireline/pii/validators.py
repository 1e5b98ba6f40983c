"""Checksum and range validators for the structured PII types.

Pure functions over digit strings: they decide whether a candidate the scanner found is
really a card, an IBAN, an SSN or an IPv4 address, so the regexes can stay cheap and loose.
"""

from __future__ import annotations

# ISO 13616 IBAN lengths by country (SWIFT IBAN registry); a wrong length is not an IBAN.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Maestro issues 12-digit cards; other 12-digit numbers are too often something else.
_MAESTRO_12_PREFIXES = ("50", "56", "57", "58", "6")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) checksum."""
    total = 0
    double = False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """A payment card number: 13-19 digits (12 for Maestro prefixes) with a valid Luhn sum."""
    n = len(digits)
    if n < 12 or n > 19 or digits[0] == "0":
        return False
    if n == 12 and not digits.startswith(_MAESTRO_12_PREFIXES):
        return False
    # Runs of one digit (0000 0000 ...) pass Luhn but are placeholders, not cards.
    if digits.count(digits[0]) == n:
        return False
    return luhn_ok(digits)


def iban_ok(candidate: str) -> bool:
    """An IBAN (spaces allowed, any case) with the country's length and a mod-97 remainder of 1."""
    compact = candidate.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    # Letters become 10..35; int() of the joined string is the fastest mod-97 in CPython.
    numeric = "".join(ch if ch <= "9" else str(ord(ch) - 55) for ch in rearranged)
    return int(numeric) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """A US SSN outside the never-issued ranges (area 000/666/9xx, group 00, serial 0000)."""
    if len(area) != 3 or len(group) != 2 or len(serial) != 4:
        return False
    if area == "000" or area == "666" or area[0] == "9":
        return False
    return group != "00" and serial != "0000"


def ipv4_ok(parts: list[str]) -> bool:
    """Four dotted decimal octets, each 0-255 without a leading zero."""
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return False
    return True
