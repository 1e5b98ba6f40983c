"""One pass over the text for every PII and secret type, then overlap resolution.

Cost model (CPython `re`, measured in bench/detectors.py): a regex that starts with a character
class scans every position, ~10-20 ns per character, so none runs over the whole text: the runs of
digits are found once per scan (pii.text, without a regex for ASCII text) and the number-shaped
patterns (phones, cards, IBANs, SSNs, IPv4) are tried there. E-mail, IPv6 and secrets are anchored on
a literal ('@', ':', markers) found with str.find, and their regexes run only at those positions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from fireline.pii import entities, ids
from fireline.pii.address import _ZIP_GATE, STREET_ADDRESS, ZIP_CODE, find_addresses, find_postcodes
from fireline.pii.capwords import LOCATION, NRP_TYPE, ORGANIZATION, PERSON, TITLE
from fireline.pii.dates import AGE, DATE_TIME, find_dates
from fireline.pii.entities import find_block_lines, find_entities
from fireline.pii.ids import DOMAIN_NAME, ID_TYPES, find_domains, find_ids
from fireline.pii.phone import is_phone
from fireline.pii.secrets import SECRET_TYPES, find_secrets
from fireline.pii.text import ID_CUES, NAME_CUES, ZIP_CUES, Text
from fireline.pii.validators import IBAN_LENGTHS, card_ok, iban_ok, ipv4_ok, ssn_ok

EMAIL_ADDRESS = "EMAIL_ADDRESS"
CREDIT_CARD = "CREDIT_CARD"
IBAN_CODE = "IBAN_CODE"
US_SSN = "US_SSN"
PHONE_NUMBER = "PHONE_NUMBER"
IP_ADDRESS = "IP_ADDRESS"

# Validated identifiers: a checksum or a strict shape, near-certain when found. The per-call pii
# detector reports these by default (leaks, echoes, inputs).
VALIDATED_TYPES: frozenset[str] = frozenset(
    {EMAIL_ADDRESS, CREDIT_CARD, IBAN_CODE, US_SSN, PHONE_NUMBER, IP_ADDRESS}
)
# Personal data recognised from words, structure and context: redacted from the searchable copy,
# reported by the pii detector only when configured (a model naming a city is not a leak).
CONTEXT_TYPES: frozenset[str] = frozenset(
    {PERSON, LOCATION, ORGANIZATION, NRP_TYPE, TITLE, STREET_ADDRESS, ZIP_CODE, DATE_TIME, AGE, DOMAIN_NAME}
)
PII_TYPES: frozenset[str] = VALIDATED_TYPES | ID_TYPES | CONTEXT_TYPES

Span = tuple[str, int, int]

# Digits with phone/card separators between them, at least 7 chars (tried at the digit runs only).
_NUMERIC = re.compile(r"[0-9][0-9 ().+-]{5,}[0-9]")
_SSN = re.compile(r"(\d{3})([- ])(\d{2})\2(\d{4})")
_CARD_SHAPE = re.compile(r"\d{12,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{4,5}")
_EXTENSION = re.compile(r" ?(?:x|ext\.? ?)\d{1,6}")
_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-'")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_EMAIL_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}(?![A-Za-z0-9-])")
_IPV6 = re.compile(r"[0-9A-Fa-f:]{2,39}(?:%[0-9A-Za-z]+)?")
_HEX = frozenset("0123456789abcdefABCDEF")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}")

# Longer spans win; on equal length the more specific type wins (a DSN over the e-mail inside it).
_PRIORITY = {
    "PRIVATE_KEY": 9, "CONNECTION_STRING": 8, "PASSWORD": 8, "JWT": 7, "API_KEY": 7, "AWS_ACCESS_KEY": 7,
    IBAN_CODE: 6, CREDIT_CARD: 5, US_SSN: 5, IP_ADDRESS: 4, EMAIL_ADDRESS: 4, DOMAIN_NAME: 3,
    STREET_ADDRESS: 3, DATE_TIME: 2, PHONE_NUMBER: 1,
    **dict.fromkeys(ID_TYPES, 5),
}  # fmt: skip
_STRONG = 4  # IP address and e-mail upwards: identifiers with a checksum or a strict shape


def _emails(text: str, out: list[Span]) -> None:
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        while start < at and text[start] in ".-'":
            start += 1
        m = _EMAIL_DOMAIN.match(text, at + 1) if start < at else None
        if m:
            out.append((EMAIL_ADDRESS, start, m.end()))
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)


def _ipv6(text: str, out: list[Span]) -> None:
    colon = text.find(":")
    while colon != -1:
        start = colon
        while start > 0 and colon - start < 4 and text[start - 1] in _HEX:
            start -= 1
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in ":."):
            colon = text.find(":", colon + 1)
            continue
        m = _IPV6.match(text, start)
        end = m.end() if m else colon + 1
        cand = text[start:end].rstrip(":") if m else ""
        # Times (12:20:39) and labels ("Phone:") have < 3 colons or fail ipaddress.
        if cand.count(":") >= 2 and (end >= len(text) or not text[end].isalnum()):
            try:
                ipaddress.IPv6Address(cand.split("%", 1)[0])
                out.append((IP_ADDRESS, start, start + len(cand)))
            except ValueError:
                pass
        colon = text.find(":", max(end, colon + 1))


def _iban_at(text: str, s: int) -> Span | None:
    """An IBAN whose digits include position s: find its country code just before and re-read it."""
    for m in _IBAN_START.finditer(text, max(0, s - 36), s + 4):
        i = m.start()
        want = IBAN_LENGTHS.get(text[i : i + 2].upper())
        if want is None:
            continue
        j, got, n = i, 0, len(text)
        while j < n and got < want:
            ch = text[j]
            if ch.isalnum():
                got += 1
            elif not (ch == " " and j + 1 < n and text[j + 1].isalnum()):
                break
            j += 1
        if got == want and (j == n or not text[j].isalnum()) and j > s and iban_ok(text[i:j]):
            return (IBAN_CODE, i, j)
    return None


def _classify_numeric(text: str, s: int, e: int, out: list[Span]) -> None:
    raw = text[s:e]
    before = text[s - 1] if s > 0 else " "
    after = text[e] if e < len(text) else " "
    if before.isalpha() or (before == " " and s > 1 and text[s - 2].isalnum()):
        iban = _iban_at(text, s)
        if iban:
            out.append(iban)
            return
        if before.isalpha():
            return  # tail of an identifier such as "ID44123456"
    if "." in raw and raw.count(".") == 3 and " " not in raw:
        if ipv4_ok(raw.split(".")) and not after.isdigit():
            out.append((IP_ADDRESS, s, e))
        return
    m = _SSN.fullmatch(raw)
    if m:
        if ssn_ok(m.group(1), m.group(3), m.group(4)):
            out.append((US_SSN, s, e))
        return
    if _CARD_SHAPE.fullmatch(raw) and card_ok(raw.replace(" ", "").replace("-", "")):
        out.append((CREDIT_CARD, s, e))
        return
    if after.isalpha() and after != "x":
        return
    ps = s - 1 if before in "+(" else s
    pe = e
    if after in "x e":
        ext = _EXTENSION.match(text, e)
        if ext:
            pe = ext.end()
    if pe < len(text) and text[pe] == ")":
        pe = pe if "(" in text[ps:pe] else pe + 1
    if is_phone(text[ps:pe], text, ps, pe):
        out.append((PHONE_NUMBER, ps, pe))


def _resolve(found: list[Span]) -> list[Span]:
    """Overlapping spans become one span over their union, typed by the longest (then the most
    specific) of them: a redaction never leaves half of a name or an address behind."""
    if len(found) < 2:
        return found
    found.sort(key=lambda sp: (sp[1], -sp[2]))
    out: list[Span] = []
    group = [found[0]]
    end = found[0][2]
    for sp in found[1:]:
        if sp[1] < end:
            group.append(sp)
            end = max(end, sp[2])
            continue
        out.extend(_resolve_group(group, end))
        group, end = [sp], sp[2]
    out.extend(_resolve_group(group, end))
    return out


def _union(group: list[Span], end: int) -> Span:
    if len(group) == 1:
        return group[0]
    best = min(group, key=lambda sp: (sp[1] - sp[2], -_PRIORITY.get(sp[0], 0), sp[1]))
    return (best[0], group[0][1], end)


def _resolve_group(group: list[Span], end: int) -> list[Span]:
    """Validated identifiers keep their exact spans (the detectors compare their values); the
    word-based spans that overlap them go, the others merge into their union."""
    strong = [sp for sp in group if _PRIORITY.get(sp[0], 0) >= _STRONG]
    if not strong:
        return [_union(group, end)]
    kept: list[Span] = []
    for sp in sorted(strong, key=lambda sp: (sp[1] - sp[2], -_PRIORITY.get(sp[0], 0), sp[1])):
        if all(sp[2] <= k[1] or sp[1] >= k[2] for k in kept):
            kept.append(sp)
    rest = [sp for sp in group if sp not in strong and all(sp[2] <= k[1] or sp[1] >= k[2] for k in kept)]
    return sorted(kept + rest, key=lambda sp: sp[1])


def _validated(t: Text, found: list[Span]) -> None:
    """E-mails, cards, IBANs, SSNs, phones, IPs (checksums and strict shapes) and secrets."""
    text = t.text
    if "@" in text:
        _emails(text, found)
    # What `_NUMERIC.finditer(text)` finds, tried only at the digit runs the scan already has: a match
    # starts with a digit and never ends before a digit, and from inside a run it can only match if it
    # matches from the run's start (the run's tail reaches no further), so every match starts a run.
    end = 0
    for s, _ in t.digits:
        if s >= end:
            m = _NUMERIC.match(text, s)
            if m is not None:
                end = m.end()
                _classify_numeric(text, s, end, found)
    if "::" in text or text.count(":") >= 3:
        _ipv6(text, found)
    found.extend(find_secrets(text, t.low))


# The passes of one scan, by name (bench/pii.py measures what each adds).
PASSES: tuple[tuple[str, Callable[[Text, list[Span]], None]], ...] = (
    ("validated", _validated),
    ("ids", find_ids),
    ("domains", find_domains),
    ("addresses", find_addresses),
    ("postcodes", find_postcodes),
    ("dates", find_dates),
    ("entities", find_entities),
)


def _gate_set() -> Any:
    """The passes' RE2 gates (pii.text) in one RE2 Set, or None without RE2 (each gate then searches)."""
    try:
        import re2
    except ImportError:  # pragma: no cover - google-re2 is a dependency
        return None
    gates = re2.Set.SearchSet()
    for index, pattern in sorted({NAME_CUES: entities._CUES, ID_CUES: ids._CUE_GATE, ZIP_CUES: _ZIP_GATE}.items()):
        if gates.Add(pattern.pattern) != index:
            raise RuntimeError("the RE2 gate set is out of order")
    gates.Compile()
    return gates


_GATES = _gate_set()
_AGE_IN_PARENS = re.compile(r" ?\((\d{1,3})\)")


def _ages_after_names(text: str, found: list[Span]) -> None:
    """ "Anna Kowalczyk (34)": a small number in parentheses right after a name is an age."""
    for entity, _, e in list(found):
        if entity == PERSON:
            m = _AGE_IN_PARENS.match(text, e)
            if m and 0 < int(m.group(1)) <= 120:
                found.append((AGE, m.start(1), m.end(1)))


def scan(text: str) -> list[Span]:
    """Every PII and secret span in text as (entity, start, end), sorted by start, non-overlapping."""
    found: list[Span] = []
    t = Text(text)
    if _GATES is not None:
        t.gates = frozenset(_GATES.Match(t.low) or ())
    for _, run in PASSES:
        run(t, found)
    if "\n" in text and found:
        find_block_lines(text, found)
    if "(" in text and found:
        _ages_after_names(text, found)
    return _resolve(found)


def replace_spans(text: str, spans: list[Span]) -> str:
    """text with each span (sorted, non-overlapping) replaced by <ENTITY>."""
    parts: list[str] = []
    pos = 0
    for entity, s, e in spans:
        parts.append(text[pos:s])
        parts.append(f"<{entity}>")
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _to_original(spans: list[Span], text: str, found: list[Span]) -> list[Span]:
    """Spans found in the redacted text, mapped back to `text` and merged with the spans they cover."""
    # Segments of the redacted text: (redacted start, redacted end, original start, original end, placeholder?).
    segments: list[tuple[int, int, int, int, bool]] = []
    r = pos = 0
    for entity, s, e in spans:
        segments.append((r, r + s - pos, pos, s, False))
        r += s - pos
        segments.append((r, r + len(entity) + 2, s, e, True))
        r += len(entity) + 2
        pos = e
    segments.append((r, r + len(text) - pos, pos, len(text), False))

    def original(offset: int, *, end: bool) -> int:
        for rs, re_, os_, oe, placeholder in segments:
            if rs <= offset < re_ or (end and offset == re_ and rs < re_):
                if placeholder:
                    return oe if end else os_
                return os_ + offset - rs
        return len(text)

    merged = [(entity, original(s, end=False), original(e, end=True)) for entity, s, e in found]
    out: list[Span] = []
    for span in sorted(spans + merged, key=lambda sp: (sp[1], -(sp[2] - sp[1]))):
        if out and span[1] < out[-1][2]:
            if span[2] > out[-1][2]:
                out[-1] = (out[-1][0], out[-1][1], span[2])
            continue
        out.append(span)
    return out


def redact(text: str, entities: frozenset[str] | None = None) -> tuple[str, list[Span]]:
    """text with each span replaced by <ENTITY>, and the spans in original offsets.

    `entities` limits what is replaced (default: every PII and secret type). The result is a
    fixed point: scanning it again finds nothing new (a placeholder can complete a pattern that
    its original words broke, e.g. an address around a name), so redacting twice changes nothing."""
    redacted, spans, _ = redact_scanned(text, entities)
    return redacted, spans


def redact_scanned(text: str, entities: frozenset[str] | None = None) -> tuple[str, list[Span], bool]:
    """`redact(text, entities)`, and whether its spans are `scan(text)` itself (entities None and no
    second look at the redacted text added a span): the detectors then reuse them as the scan."""

    def find(value: str) -> list[Span]:
        found = scan(value)
        return found if entities is None else [sp for sp in found if sp[0] in entities]

    spans = find(text)
    if not spans:
        return text, spans, entities is None
    redacted = replace_spans(text, spans)
    exact = entities is None
    for _ in range(3):
        again = [sp for sp in find(redacted) if redacted[sp[1]:sp[2]] != f"<{sp[0]}>"]
        if not again:
            break
        spans = _to_original(spans, text, again)
        redacted = replace_spans(text, spans)
        exact = False
    return redacted, spans, exact


__all__ = ["CONTEXT_TYPES", "PII_TYPES", "SECRET_TYPES", "VALIDATED_TYPES", "Span", "redact", "redact_scanned",
           "replace_spans", "scan"]
