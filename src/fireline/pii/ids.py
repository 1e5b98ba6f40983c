"""Domain names, and identity documents: driver licences, passports, national identity numbers.

Numbers with a check digit (Italian codice fiscale, Spanish DNI/NIE, French NIR, Polish PESEL,
Finnish HETU, Swedish personnummer, Romanian CNP, German tax id, Dutch BSN, Belgian national
number, UK NHS) are validated with python-stdnum; the weaker ones (German tax id, BSN, Belgian
number, NHS, UK NINO, licences, passports) also need a cue word nearby, since a bare 9-11 digit
number is as likely an order id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from stdnum import luhn
from stdnum.be import nn as be_nn
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.gb import nhs as gb_nhs
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.ro import cnp as ro_cnp

from fireline.pii.lexicon import words
from fireline.pii.text import ID_CUES, Text

DOMAIN_NAME = "DOMAIN_NAME"
US_DRIVER_LICENSE = "US_DRIVER_LICENSE"
PASSPORT = "PASSPORT"
ID_TYPES = frozenset({
    US_DRIVER_LICENSE, PASSPORT, "US_PASSPORT", "UK_NINO", "UK_NHS", "IT_FISCAL_CODE", "ES_NIF", "ES_NIE",
    "FR_NIR", "DE_TAX_ID", "NL_BSN", "PL_PESEL", "FI_PERSONAL_IDENTITY_CODE", "SE_PERSONNUMMER",
    "BE_NATIONAL_NUMBER", "RO_CNP", "NATIONAL_ID",
})  # fmt: skip

Span = tuple[str, int, int]

# Top-level domains people write in prose; country codes that are also file extensions or code
# attributes (.py, .sh, .md, .rs, .so, .id, .name ...) only count inside a URL or after www.
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|co|me|tv|us|uk|ca|au|nz|ie|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|"
    "is|pt|pl|cz|sk|hu|ro|bg|gr|tr|ru|ua|by|lt|lv|ee|hr|si|rs|ba|mk|al|cy|mt|lu|li|mc|jp|cn|hk|tw|kr|sg|my|th|vn|ph|"
    "in|pk|bd|lk|np|ae|sa|qa|kw|om|il|eg|ma|tn|za|ng|ke|gh|br|ar|cl|pe|uy|ve|ec|bo|py|mx|cr|pa|cu|do|pr|eu|asia|"
    "online|site|store|shop|tech|cloud|email|blog|news|xyz|club|live|life|world|today|space|website|global"
)
_CODE_TLDS = words("py sh md rs so id name pm pl in is it do me at as to by cc mk ms ps tv")
_DOMAIN = re.compile(rf"\.(?:{_TLDS})(?:\.[a-z]{{2}})?(?![\w-])", re.I)
_DOT_LETTER = re.compile(r"\.[A-Za-z]")
_LABELS = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+$")
_URL = re.compile(r"(?:https?|ftp)://[^\s<>\"'()\[\]{}]+", re.I)

_CUE_KINDS = (
    r"driver'?s? licen[cs]e|driving licen[cs]e|licen[cs]e (?:no|number|#)|\bdl\b|passport|"
    r"national (?:id|identity|insurance)|\bnino\b|\bni number|identity card|\bid card|personalausweis|"
    r"steuer-?id|tax id|\bbsn\b|burgerservicenummer|\bnhs\b|social security|codice fiscale|\bdni\b|\bnie\b|"
    r"\bnif\b|\bpesel\b|personnummer|henkilötunnus|\bhetu\b|\bcnp\b|\bnir\b|sécurité sociale|rijksregister|"
    r"numéro national|identification number|\bid (?:no|number|#)"
)
_CUE_ID = re.compile(
    r"(?P<kind>" + _CUE_KINDS + r")"
    r"[^\n\w]{0,3}(?:[a-z]+[^\n\w]{1,3}){0,4}?"
    r"(?P<value>(?-i:[A-Z0-9][A-Z0-9-]{4,20}[A-Z0-9]|\d[\d ]{4,20}\d))(?![\w-])",
    re.I,
)
_NINO = re.compile(r"(?<![\w])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w])")
_CF = re.compile(r"(?<![\w])[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z](?![\w])", re.I)
_DNI = re.compile(r"(?<![\w-])(?:[XYZ]-?\d{7}|\d{8})-?[A-Z](?![\w-])")
_HETU = re.compile(r"(?<![\w-])\d{6}[-+A-FU-Y]\d{3}[0-9A-Z](?![\w-])")
_SE_PNR = re.compile(r"(?<![\w-])(?:19|20)?\d{6}[-+]\d{4}(?![\w-])")
def _fast_compile(pattern: str) -> Any:
    try:
        import re2

        return re2.compile(pattern)
    except ImportError:  # pragma: no cover - google-re2 is a dependency; keep working without it
        return re.compile(pattern)


# Many alternatives in one test per text: RE2's automaton does it in one pass (CPython's `re`
# tries each alternative at each position, 3x slower).
_CUE_GATE = _fast_compile(
    r"licen|passport|insurance|nhs|bsn|social sec|fiscal|dni|nie|nif|pesel|personnummer|hetu|henkil|cnp|nir|"
    r"rijksregister|national|steuer|ausweis|\bdl\b|\bid\b|identi",
)
# Where a cue word starts: `_CUE_ID` (CPython's `re`, for its lookahead) is tried only there, instead
# of at every position of the text (a whole 2 KB text scanned per call, once a gate word is in it).
_CUE_START = _fast_compile(r"(?i)" + _CUE_KINDS)


def _valid(mod: Any) -> Callable[[str], bool]:
    fn = mod.is_valid
    return lambda v: bool(fn(v))


# Checked numbers that are safe without a cue (long, with a strong check), by digit count.
_DIGIT_IDS: tuple[tuple[str, int, Callable[[str], bool]], ...] = (
    ("FR_NIR", 15, _valid(fr_nir)),
    ("RO_CNP", 13, _valid(ro_cnp)),
    ("PL_PESEL", 11, _valid(pl_pesel)),
)
# Checked numbers that need a cue word (short, or a check any 1 in 10 numbers passes).
_CUED_IDS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("DE_TAX_ID", _valid(de_idnr)), ("NL_BSN", _valid(nl_bsn)), ("BE_NATIONAL_NUMBER", _valid(be_nn)),
    ("UK_NHS", _valid(gb_nhs)),
)  # fmt: skip


def _se_ok(v: str) -> bool:
    digits = v.replace("-", "").replace("+", "")[-10:]
    mm, dd = int(digits[2:4]), int(digits[4:6])
    return 1 <= mm <= 12 and 1 <= dd <= 91 and luhn.is_valid(digits)


def find_domains(t: Text, out: list[Span]) -> None:
    """URLs and bare domain names (a known top-level domain after dot-separated labels)."""
    text = t.text
    if "://" in text:
        for m in _URL.finditer(text):
            e = m.end()
            while e > m.start() and text[e - 1] in ".,;:!?":
                e -= 1
            out.append((DOMAIN_NAME, m.start(), e))
    if "." not in text:
        return
    # Only a dot followed by a letter can start a top-level domain (sentence ends are followed by
    # a space): find those first, then try the TLD list there.
    for dot in _DOT_LETTER.finditer(text):
        hit = _DOMAIN.match(text, dot.start())
        if not hit:
            continue
        m = hit
        s = m.start()
        i = s
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "-."):
            i -= 1
        host = text[i : m.end()]
        if i == s or not _LABELS.match(text[i : s + 1]) or (i > 0 and text[i - 1] in "@/_:\\"):
            continue
        tld = m.group()[1:].split(".")[0].lower()
        first = host.split(".", 1)[0]
        if tld in _CODE_TLDS and not host.lower().startswith("www."):
            continue
        # Code: obj.attr, module.func, self.name; a domain's first label is rarely all lower-case
        # English with a code-ish TLD, but "example.com" is fine: only the code TLDs were skipped.
        if first.isdigit() or text[m.end() : m.end() + 1] == "(":
            continue
        out.append((DOMAIN_NAME, i, m.end()))


def find_ids(t: Text, out: list[Span]) -> None:
    """Identity document numbers: by check digit where strong, else by a cue word before them.
    Each shape is tried only at a digit run of the right length."""
    text = t.text
    n = len(text)
    runs = t.digits
    for k, (s, e) in enumerate(runs):
        size = e - s
        before = text[s - 1] if s else " "
        after = text[e] if e < n else " "
        if size == 2 and s >= 6 and text[s - 6 : s].isalpha():  # codice fiscale: 6 letters, 2 digits, ...
            m = _CF.match(text, s - 6)
            if m and it_cf.is_valid(m.group().upper()):
                out.append(("IT_FISCAL_CODE", m.start(), m.end()))
                continue
        if size in (7, 8) and after.isalpha():  # DNI 12345678Z, NIE X1234567L
            start = s - 1 if size == 7 and before in "XYZ" else s - 2 if size == 7 and before == "-" else s
            m = _DNI.match(text, start)
            if m:
                v = m.group().replace("-", "")
                if v[0] in "XYZ" and es_nie.is_valid(v):
                    out.append(("ES_NIE", m.start(), m.end()))
                elif v[0].isdigit() and es_dni.is_valid(v):
                    out.append(("ES_NIF", m.start(), m.end()))
                continue
        if size in (2, 6) and s >= 2 and text[s - 2 : s].strip().isupper():  # NINO AB 12 34 56 C
            start = s - 3 if text[s - 1] == " " else s - 2
            m = _NINO.match(text, max(0, start))
            if m and _cue_near(text, m.start(), ("insurance", "nino", "ni number", "ni no")):
                out.append(("UK_NINO", m.start(), m.end()))
                continue
        if size == 6 and after in "-+A":
            m = _HETU.match(text, s)
            if m and fi_hetu.is_valid(m.group()):
                out.append(("FI_PERSONAL_IDENTITY_CODE", m.start(), m.end()))
                continue
        if size in (6, 8) and after in "-+":
            m = _SE_PNR.match(text, s)
            if m and _se_ok(m.group()):
                out.append(("SE_PERSONNUMMER", m.start(), m.end()))
                continue
        if before in " \n\t(:" or s == 0:
            # FR NIR, RO CNP, PL PESEL: 11-15 digits, possibly in groups separated by spaces.
            j, ndigits = k, size
            while ndigits < 15 and j + 1 < len(runs) and runs[j + 1][0] == runs[j][1] + 1 and text[runs[j][1]] == " ":
                j += 1
                ndigits += runs[j][1] - runs[j][0]
            end = runs[j][1]
            if ndigits >= 11 and not (end < n and (text[end].isalnum() or text[end] == "-")):
                value = text[s:end].replace(" ", "")
                for id_type, count, ok in _DIGIT_IDS:
                    if len(value) == count and ok(value):
                        out.append((id_type, s, end))
                        break
    if t.gate(ID_CUES, _CUE_GATE):
        for m in cue_ids(text):
            value = m.group("value")
            if not any(ch.isdigit() for ch in value):
                continue
            kind = m.group("kind").lower()
            digits = value.replace(" ", "").replace("-", "")
            entity: str | None = None
            if "passport" in kind:
                entity = "US_PASSPORT" if digits.isdigit() and len(digits) == 9 else PASSPORT
            elif "licen" in kind or kind == "dl":
                entity = US_DRIVER_LICENSE
            else:
                for name, ok in _CUED_IDS:
                    if digits.isdigit() and ok(digits):
                        entity = name
                        break
                if entity is None and sum(ch.isdigit() for ch in digits) >= 5:
                    entity = "NATIONAL_ID"
            if entity and 5 <= len(digits) <= 20:
                out.append((entity, m.start("value"), m.end("value")))


def cue_ids(text: str) -> Iterator[Any]:
    """What `_CUE_ID.finditer(text)` finds, tried only inside the spans where RE2 finds a cue word
    (every match starts in one) instead of at every position of the text."""
    end = 0
    for k in _CUE_START.finditer(text):
        start = max(k.start(), end)
        while start < k.end():
            m = _CUE_ID.match(text, start)
            if m is None:
                start += 1
                continue
            yield m
            end = m.end()
            start = max(end, start + 1)


def _cue_near(text: str, start: int, cues: tuple[str, ...]) -> bool:
    before = text[max(0, start - 40) : start].lower()
    return any(c in before for c in cues)
