"""Claim support: what an answer asserts that the retrieved text does not say, or says otherwise.

With retrieval text present, the answer's checkable claims are pulled out and looked up in the
retrieved documents (and in the user's own message: what the user said is given, not claimed):

- numbers, amounts, percentages and dates, with their unit when one follows ("90 days", "$350",
  "20%", "2024"); spelled-out numbers in the documents ("thirty days") count as digits;
- policy terms ("refund", "retroactive", "waive", "eligible", "guarantee", ...), by stem;
- named entities: runs of two or more capitalised words, and acronyms of three letters or more.

A claim found nowhere is `unsupported_claim`; a number whose unit the documents give with another
value ("within 90 days" where the policy says 30 days) is `contradicted_claim`. This is a
lexical check: a paraphrase the documents support with other words ("a month" for "30 days") is
reported, and a claim the documents contain but in another context passes. It is the tripwire
that catches an invented policy with a correct citation; an NLI model would be the finer one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

from fireline.detect.detectors.base import CallView, Finding, evidence, found_in
from fireline.patterns import matches

MAX_FINDINGS = 5
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}
_UNITS = {
    "day": "day", "days": "day", "hour": "hour", "hours": "hour", "week": "week", "weeks": "week",
    "month": "month", "months": "month", "year": "year", "years": "year", "%": "%", "percent": "%",
    "dollars": "$", "usd": "$", "euros": "€", "eur": "€", "minutes": "minute", "minute": "minute",
    "business": "day", "working": "day", "calendar": "day",
}
_NUM = re.compile(r"(?<![\w.])([$€£])?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?(%|[A-Za-z]+)?")
# Each pattern below opens with a lookahead on the letters its words can start with: Python's re
# then rejects most positions at once (3-4x faster over a 1 KB text; same matches).
_SPELLED = re.compile(r"\b(?=[otfsenh])(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
                      + r")\b\s?([A-Za-z%]+)?", re.IGNORECASE)
_POLICY = ("refund", "reimburs", "retroactiv", "waive", "waiv", "guarante", "eligib", "exempt", "compensat",
           "penalt", "warrant", "free of charge", "no charge", "non-refundable", "cancel", "discount",
           "entitle", "credit", "exception", "lifetime")
_POLICY_RX = re.compile(r"\b(?=[" + "".join(sorted({p[0] for p in _POLICY})) + r"])("
                        + "|".join(re.escape(p) for p in _POLICY) + r")\w*", re.IGNORECASE)
# `\b([A-Z][a-z]+(?:\s+(?:of|de|la|the|and|&)?\s*[A-Z][a-z]+)+|[A-Z]{3,}\b)`, written to open with its
# capital: Python's re then skips to the next capital in C (the boundary before it is the lookbehind:
# the character before the capital is no word character), about half the time of the plain pattern.
_ENTITY = re.compile(r"([A-Z](?<!\w[A-Z])(?:[a-z]+(?:\s+(?:of|de|la|the|and|&)?\s*[A-Z][a-z]+)+|[A-Z]{2,}\b))")
# A prefilter for ASCII answers (most of them): one RE2 pass (a DFA, ~3 us over 600 characters where
# the pattern above costs 10-15 us) says whether the policy pattern can match at all; only then does it
# run. It is a superset of the pattern on ASCII text: the policy stems case-insensitively (in ASCII only
# A-Z fold, so lower-casing first is the same). Non-ASCII answers skip it and `_ENTITY_ASCII`: Python's
# case folding and \s know more than RE2's.
_POLICY_HINT = re2.compile("|".join(re.escape(p) for p in _POLICY))
_WS = r"[\t-\r\x1c-\x1f ]"
# `_ENTITY` itself for ASCII answers, on RE2 (one DFA pass, where `re` tries the pattern at every capital):
# on ASCII text the lookbehind (no word character before the capital) is RE2's ASCII \b, Python's \s is
# `_WS`, and RE2's leftmost-first alternation with greedy repeats picks the matches `re` picks. The
# whole match is `_ENTITY`'s group 1.
_ENTITY_ASCII = re2.compile(rf"\b[A-Z](?:[a-z]+(?:{_WS}+(?:of|de|la|the|and|&)?{_WS}*[A-Z][a-z]+)+|[A-Z]{{2,}}\b)")
_CITE_PAREN = re.compile(r"\s*(?:source|doc|ref|see)\b", re.IGNORECASE)
_NOT_ENTITIES = frozenset({"I", "OK", "FAQ", "URL", "PDF", "USD", "EUR", "ASAP", "NOTE", "TODO"})


_DIGIT = re.compile(r"\d")
# In ASCII text \d is [0-9]: a bitmap test per character where \d asks the Unicode tables (~4x faster).
_ASCII_DIGIT = re.compile(r"[0-9]")


def _number_matches(text: str) -> Iterator[re.Match[str]]:
    """`_NUM.finditer(text)`, but the costly pattern only runs next to digits: a match starts at
    most two characters (currency, space) before its first digit, so it is tried at those three
    positions only (a plain scan for the next digit skips the rest; lookbehind still sees the text
    before the position)."""
    pos, n = 0, len(text)
    search = _DIGIT.search
    if text.isascii():
        if not any(d in text for d in "0123456789"):  # ten memchr calls: most answers hold no digit
            return
        search = _ASCII_DIGIT.search
    while pos < n:
        digit = search(text, pos)
        if digit is None:
            return
        d = digit.start()
        for start in range(max(pos, d - 2), d + 1):
            m = _NUM.match(text, start)
            if m is not None:
                yield m
                pos = m.end()
                break
        else:
            pos = d + 1


def _numbers(text: str) -> list[tuple[str, str | None, int, int]]:
    """(value, unit, start, end) of the numbers in text; the unit is the word after it, when known."""
    out = []
    for m in _number_matches(text):
        currency, whole, frac, after = m.groups()
        value = whole.replace(",", "") + (f".{frac}" if frac else "")
        unit = _UNITS.get((after or "").lower()) or ({"$": "$", "€": "€", "£": "£"}.get(currency or "") if currency
                                                      else None)
        out.append((value.lstrip("0") or "0", unit, m.start(), m.end()))
    return out


def spelled_value(word: str) -> int | None:
    """The number a spelled-out word the pattern matched gives. The pattern ignores case the way `re`
    does, so it also matches words whose letters only fold to ASCII ("ſix" with a long s, "K" the
    Kelvin sign): those are looked up by their case fold; a word that folds to no number gives None."""
    return _NUMBER_WORDS.get(word.lower()) or _NUMBER_WORDS.get(word.casefold())


def _doc_numbers(text: str) -> tuple[set[str], dict[str, set[str]]]:
    """Every number value in a text, and the values given per unit."""
    values: set[str] = set()
    by_unit: dict[str, set[str]] = {}
    for value, unit, _, _ in _numbers(text):
        values.add(value)
        if unit:
            by_unit.setdefault(unit, set()).add(value)
    for m in _SPELLED.finditer(text):
        number = spelled_value(m.group(1))
        if number is None:
            continue
        value = str(number)
        values.add(value)
        unit = _UNITS.get((m.group(2) or "").lower())
        if unit:
            by_unit.setdefault(unit, set()).add(value)
    return values, by_unit


@dataclass(frozen=True, slots=True)
class _Source:
    """What the claims are looked up in: the text lower-cased, its numbers, its numbers per unit."""

    low: str
    values: frozenset[str]
    by_unit: dict[str, frozenset[str]]


_DOCS: dict[str, _Source] = {}  # retrieved documents repeat across calls: indexed once each
_DOCS_MAX = 4096


def _document(text: str) -> _Source:
    hit = _DOCS.get(text)
    if hit is None:
        values, by_unit = _doc_numbers(text)
        hit = _Source(text.lower(), frozenset(values), {u: frozenset(v) for u, v in by_unit.items()})
        if len(_DOCS) >= _DOCS_MAX:
            _DOCS.clear()
        _DOCS[text] = hit
    return hit


def _sources(docs: list[str]) -> _Source:
    if len(docs) == 1:
        return _document(docs[0])
    parts = [_document(d) for d in docs]
    by_unit: dict[str, set[str]] = {}
    for part in parts:
        for unit, vals in part.by_unit.items():
            by_unit.setdefault(unit, set()).update(vals)
    return _Source("\n".join(p.low for p in parts), frozenset().union(*(p.values for p in parts)),
                   {u: frozenset(v) for u, v in by_unit.items()})


# Every value a spelled-out number can give: a claimed value outside it ("2024", "1.5") can only be
# found among the digits, so the spelled-number pattern is not run for it.
_SPELLED_VALUES = frozenset(str(v) for v in _NUMBER_WORDS.values())
# ... and the words that give each: in ASCII text (where the pattern's case folding is ASCII's), a
# value none of whose words is in the lower-cased text cannot be among the matches (a memchr-speed
# search instead of the pattern's ~50 us over a 1 KB question).
_WORDS_OF = {v: tuple(w for w, n in _NUMBER_WORDS.items() if str(n) == v) for v in _SPELLED_VALUES}


class _Given:
    """The user's own words (what they said is given, not claimed), read only when a claim is not
    in the documents: most answers never need it."""

    __slots__ = ("_digits", "_low", "_spelled", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._low: str | None = None
        self._digits: set[str] | None = None
        self._spelled: set[str] | None = None

    @property
    def low(self) -> str:
        if self._low is None:
            self._low = self._text.lower()
        return self._low

    def has_value(self, value: str) -> bool:
        """`value in _doc_numbers(text)[0]`: the numbers written with digits are read first, the
        spelled-out ones only for a value one of them can give."""
        if self._digits is None:
            # A value read from digits is a piece of the text (its leading zeros dropped) unless a comma
            # was taken out of it: without a comma, a value the text does not hold is not among them.
            if value not in self._text and "," not in self._text:
                return self._spelled_value(value)
            self._digits = {v for v, _, _, _ in _numbers(self._text)}
        if value in self._digits:
            return True
        return self._spelled_value(value)

    def _spelled_value(self, value: str) -> bool:
        if value not in _SPELLED_VALUES:
            return False
        if self._spelled is None:
            if self._text.isascii() and not any(w in self.low for w in _WORDS_OF[value]):
                return False
            self._spelled = {str(n) for m in _SPELLED.finditer(self._text)
                             if (n := spelled_value(m.group(1))) is not None}
        return value in self._spelled


class SupportChecker:
    """Claims of the answer against the retrieved text (used by the grounding detector)."""

    def check(self, call: CallView, detector: str) -> list[Finding]:
        docs = [str(d.get("text")) for d in call.retrieval if isinstance(d.get("text"), str) and d.get("text")]
        answer = call.output_text
        if not docs or not answer:
            return []
        source = _sources(docs)
        given = _Given(call.input_text)
        found: list[Finding] = []

        def add(kind: str, start: int, end: int, why: str, confidence: float) -> None:
            found.append(Finding(detector=detector, kind=kind, severity="P2", confidence=confidence,
                                 location="output", start=start, end=end,
                                 evidence=f"{why}: {evidence(answer, start, end, spans=call.scan_of(answer))}"))

        for value, unit, start, end in _numbers(answer):
            contradicted = bool(unit) and unit in source.by_unit and value not in source.by_unit[unit]
            if not contradicted and value in source.values:
                continue
            if given.has_value(value) or _inside_citation(answer, start):
                continue
            if contradicted:
                add("contradicted_claim", start, end, f"the documents give other {unit} figures", 0.8)
            else:
                add("unsupported_claim", start, end, "number not in the retrieved text", 0.7)
            if len(found) >= MAX_FINDINGS:
                return found
        plain = answer.isascii()
        # The hints read an ASCII answer as bytes: RE2's wrapper maps a str match back in Python.
        data = answer.encode("ascii") if plain else b""
        policy = _POLICY_RX.finditer(answer) if not plain or found_in(_POLICY_HINT, data.lower()) else ()
        for m in policy:
            stem = m.group(1).lower()
            if stem not in source.low and stem not in given.low:
                add("unsupported_claim", m.start(), m.end(), "policy term not in the retrieved text", 0.6)
                if len(found) >= MAX_FINDINGS:
                    return found
        for name, start, end in _entities(answer, data) if plain else _entities(answer):
            if name in _NOT_ENTITIES or _sentence_start(answer, start) and " " not in name:
                continue
            if name.lower() not in source.low and name.lower() not in given.low:
                add("unsupported_claim", start, end, "name not in the retrieved text", 0.5)
                if len(found) >= MAX_FINDINGS:
                    return found
        return found


def _entities(answer: str, data: bytes | None = None) -> Iterator[tuple[str, int, int]]:
    """(name, start, end) of each `_ENTITY` match in the answer; with `data` (an ASCII answer's bytes),
    `_ENTITY_ASCII`'s matches (the same ones), read without a match object each."""
    if data is None:
        for m in _ENTITY.finditer(answer):
            yield m.group(1), m.start(), m.end()
        return
    yield from matches(_ENTITY_ASCII, answer)


def _inside_citation(text: str, pos: int) -> bool:
    """True inside [...], 【...】 or (source: ...), where ids like kb-12 are citations, not claims."""
    for opener, closer in (("[", "]"), ("\u3010", "\u3011"), ("(", ")")):
        left = text.rfind(opener, 0, pos)
        if left == -1 or text.find(closer, left) < pos or "\n" in text[left:pos]:
            continue
        if opener != "(" or _CITE_PAREN.match(text, left + 1):
            return True
    return False


def _sentence_start(text: str, pos: int) -> bool:
    """Whether only whitespace stands between `pos` and the end of the previous sentence (or the start)."""
    i = pos - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return i < 0 or text[i] in ".!?:\n-*"


__all__ = ["SupportChecker"]


def config_flag(config: dict[str, Any]) -> bool:
    value = config.get("check_support")
    return True if value is None else bool(value)
