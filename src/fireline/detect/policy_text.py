"""The text side of policies: deny terms with their inflections, the combined matchers, and the
small parsers for hosts and numbers that allow-lists and bounds use."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fireline.detect.policies import PolicyRule, compile_re2, re2, re2_options

_APOSTROPHES = ("'", "\u2019")
_VOWELS = set("aeiou")
_NUMBER = re.compile(r"^\s*[$\u20ac\u00a3]?\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*%?\s*$")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
URL_RE = re.compile(r"(?i)\b(?:https?|ftp)://([^\s/:?#@]+@)?([A-Za-z0-9.-]+)")
HOST_RE = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
SPLIT_RE = re.compile(r"[,;]")


def inflections(term: str) -> set[str]:
    """The term and its simple English inflections (plural, possessive, -ed, -ing), lower case."""
    words = term.lower().split()
    last, head = words[-1], words[:-1]
    forms = {last}
    if last.isalpha():
        forms |= {last + "s", last + "es", *(last + a + "s" for a in _APOSTROPHES), last + "s'"}
        if last.endswith("e"):
            forms |= {last + "d", last[:-1] + "ing"}
        else:
            forms |= {last + "ed", last + "ing"}
        if len(last) > 2 and last.endswith("y") and last[-2] not in _VOWELS:
            forms |= {last[:-1] + "ies", last[:-1] + "ied"}
        if (len(last) > 2 and last[-1] not in _VOWELS | set("wxy") and last[-2] in _VOWELS
                and last[-3] not in _VOWELS):
            forms |= {last + last[-1] + "ed", last + last[-1] + "ing"}
    return {" ".join([*head, f]) for f in forms}


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _term_regex(variant: str) -> str:
    body = r"\s+".join(re.escape(w) for w in variant.split())
    left = r"\b" if variant[0].isalnum() or variant[0] == "_" else ""
    right = r"\b" if variant[-1].isalnum() or variant[-1] == "_" else ""
    return left + body + right


@dataclass(frozen=True, slots=True)
class Hit:
    rule: PolicyRule
    kind: str  # deny_term | deny_pattern | not_allowed | above_max | below_min | not_a_number | detector
    start: int | None = None
    end: int | None = None


class TextMatcher:
    """The deny terms and deny patterns of several rules over one text, in two passes."""

    def __init__(self, rules: Sequence[PolicyRule]) -> None:
        self.rules = list(rules)
        self.term_rules: dict[str, list[PolicyRule]] = {}
        for rule in self.rules:
            for term in rule.deny_terms:
                for variant in inflections(term):
                    bucket = self.term_rules.setdefault(variant, [])
                    if rule not in bucket:
                        bucket.append(rule)
        self.terms: Any = None
        if self.term_rules:
            # Longest first: RE2's alternation is leftmost-first, so "fords" wins over "ford".
            variants = sorted(self.term_rules, key=len, reverse=True)
            self.terms = compile_re2("(?i)(?:" + "|".join(_term_regex(v) for v in variants) + ")")
        self.patterns: list[tuple[PolicyRule, Any]] = [(r, compile_re2(p)) for r in self.rules
                                                       for p in r.deny_patterns]
        self.pattern_set: Any = None
        if self.patterns and re2 is not None:
            self.pattern_set = re2.Set.SearchSet(re2_options())
            for rule in self.rules:
                for p in rule.deny_patterns:
                    self.pattern_set.Add(p)
            self.pattern_set.Compile()

    def hits(self, text: str) -> list[Hit]:
        out: list[Hit] = []
        if not text:
            return out
        if self.terms is not None:
            for m in self.terms.finditer(text):
                for rule in self.term_rules.get(_normal(m.group()), ()):
                    out.append(Hit(rule, "deny_term", m.start(), m.end()))
        if self.patterns:
            matched = (self.pattern_set.Match(text) or ()) if self.pattern_set is not None \
                else [i for i, (_, p) in enumerate(self.patterns) if p.search(text)]
            for i in matched:
                rule, pattern = self.patterns[i]
                for m in pattern.finditer(text):
                    out.append(Hit(rule, "deny_pattern", m.start(), max(m.end(), m.start())))
        return out


def hosts(text: str) -> list[str]:
    """Hosts of the e-mail addresses and URLs in a text, lower case."""
    found = [m.group(1).lower() for m in EMAIL_RE.finditer(text)]
    found += [m.group(2).lower().rstrip(".") for m in URL_RE.finditer(text)]
    return found


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in allowed)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        m = _NUMBER.match(value)
        return float(m.group(1)) if m else None
    return None



def redact_spans(text: str, spans: Sequence[tuple[int, int]], label: str = "[REDACTED]") -> str:
    """Replace the spans (possibly overlapping) by one label per merged run."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in reversed(merged):
        text = text[:s] + label + text[e:]
    return text
