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
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, evidence

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
_SPELLED = re.compile(r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b\s?([A-Za-z%]+)?",
                      re.IGNORECASE)
_POLICY = ("refund", "reimburs", "retroactiv", "waive", "waiv", "guarante", "eligib", "exempt", "compensat",
           "penalt", "warrant", "free of charge", "no charge", "non-refundable", "cancel", "discount",
           "entitle", "credit", "exception", "lifetime")
_POLICY_RX = re.compile(r"\b(" + "|".join(re.escape(p) for p in _POLICY) + r")\w*", re.IGNORECASE)
_ENTITY = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:of|de|la|the|and|&)?\s*[A-Z][a-z]+)+|[A-Z]{3,}\b)")
_CITE_PAREN = re.compile(r"\s*(?:source|doc|ref|see)\b", re.IGNORECASE)
_NOT_ENTITIES = frozenset({"I", "OK", "FAQ", "URL", "PDF", "USD", "EUR", "ASAP", "NOTE", "TODO"})


def _numbers(text: str) -> list[tuple[str, str | None, int, int]]:
    """(value, unit, start, end) of the numbers in text; the unit is the word after it, when known."""
    out = []
    for m in _NUM.finditer(text):
        currency, whole, frac, after = m.groups()
        value = whole.replace(",", "") + (f".{frac}" if frac else "")
        unit = _UNITS.get((after or "").lower()) or ({"$": "$", "€": "€", "£": "£"}.get(currency or "") if currency
                                                      else None)
        out.append((value.lstrip("0") or "0", unit, m.start(), m.end()))
    return out


def _doc_numbers(text: str) -> tuple[set[str], dict[str, set[str]]]:
    values: set[str] = set()
    by_unit: dict[str, set[str]] = {}
    for value, unit, _, _ in _numbers(text):
        values.add(value)
        if unit:
            by_unit.setdefault(unit, set()).add(value)
    for m in _SPELLED.finditer(text):
        value = str(_NUMBER_WORDS[m.group(1).lower()])
        values.add(value)
        unit = _UNITS.get((m.group(2) or "").lower())
        if unit:
            by_unit.setdefault(unit, set()).add(value)
    return values, by_unit


class SupportChecker:
    """Claims of the answer against the retrieved text (used by the grounding detector)."""

    def check(self, call: CallView, detector: str) -> list[Finding]:
        docs = [str(d.get("text")) for d in call.retrieval if isinstance(d.get("text"), str) and d.get("text")]
        answer = call.output_text
        if not docs or not answer:
            return []
        source = "\n".join(docs)
        given = call.input_text
        low_source, low_given = source.lower(), given.lower()
        values, by_unit = _doc_numbers(source)
        given_values, _ = _doc_numbers(given)
        found: list[Finding] = []

        def add(kind: str, start: int, end: int, why: str, confidence: float) -> None:
            if len(found) < MAX_FINDINGS:
                found.append(Finding(detector=detector, kind=kind, severity="P2", confidence=confidence,
                                     location="output", start=start, end=end,
                                     evidence=f"{why}: {evidence(answer, start, end)}"))

        for value, unit, start, end in _numbers(answer):
            if value in given_values or _inside_citation(answer, start):
                continue
            if unit and unit in by_unit and value not in by_unit[unit]:
                add("contradicted_claim", start, end, f"the documents give other {unit} figures", 0.8)
            elif value not in values:
                add("unsupported_claim", start, end, "number not in the retrieved text", 0.7)
        for m in _POLICY_RX.finditer(answer):
            stem = m.group(1).lower()
            if stem not in low_source and stem not in low_given:
                add("unsupported_claim", m.start(), m.end(), "policy term not in the retrieved text", 0.6)
        for m in _ENTITY.finditer(answer):
            name = m.group(1)
            if name in _NOT_ENTITIES or _sentence_start(answer, m.start()) and " " not in name:
                continue
            if name.lower() not in low_source and name.lower() not in low_given:
                add("unsupported_claim", m.start(), m.end(), "name not in the retrieved text", 0.5)
        return found


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
    before = text[:pos].rstrip()
    return not before or before[-1] in ".!?:\n-*"


__all__ = ["SupportChecker"]


def config_flag(config: dict[str, Any]) -> bool:
    value = config.get("check_support")
    return True if value is None else bool(value)
