"""harmful_output: the answer contains harmful content, by category.

Two sources: a lexicon (one combined regex over the lowercased answer; the matching category is
the regex group that fired) and any number of plug-in classifiers a team registers
(`Classifier.classify(text) -> [(category, score)]`, reported when score >= threshold). The
lexicon is a cheap tripwire, not a moderation model: it cannot tell quoting from endorsing,
and it misses harm phrased in ordinary words (see docs/detectors.md for measured figures).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from fireline.detect.detectors.base import CallView, Finding, evidence, option
from fireline.detect.detectors.lexicon import DEFAULT_LEXICON

DEFAULT_SEVERITY = {"self_harm": "P1", "weapons_cbrn": "P1", "hate": "P2"}


class Classifier(Protocol):
    """A team's own model: scores per category in [0, 1] for a text."""

    name: str

    def classify(self, text: str) -> Iterable[tuple[str, float]]: ...


def _term_regex(term: str) -> str:
    stem = term.rstrip("*")
    body = re.escape(stem).replace(r"\ ", r"\s+")
    return body + (r"\w*" if term.endswith("*") else r"\b")


def compile_lexicon(lexicon: dict[str, Iterable[str]]) -> tuple[re.Pattern[str] | None, list[str]]:
    """One regex over every category's terms; group i fires for category names[i]."""
    names: list[str] = []
    groups: list[str] = []
    for category, terms in lexicon.items():
        alts = sorted({_term_regex(t.lower()) for t in terms if t.strip()}, key=len, reverse=True)
        if alts:
            names.append(category)
            groups.append(f"(?P<g{len(names) - 1}>" + "|".join(alts) + ")")
    if not groups:
        return None, names
    return re.compile(r"\b(?:" + "|".join(groups) + ")"), names


class HarmfulOutputDetector:
    name = "harmful_output"

    def __init__(self, config: dict[str, Any], classifiers: Iterable[Classifier] = ()) -> None:
        lexicon: dict[str, Iterable[str]] = dict(DEFAULT_LEXICON)
        for category, terms in (config.get("lexicon") or {}).items():
            lexicon[category] = terms
        for category in config.get("disabled_categories") or []:
            lexicon.pop(category, None)
        self._pattern, self._categories = compile_lexicon(lexicon)
        self.min_hits = int(option(config, "min_hits", 1))
        self.severity: dict[str, str] = {**DEFAULT_SEVERITY, **(config.get("severity") or {})}
        self.default_severity = str(option(config, "default_severity", "P2"))
        self.threshold = float(option(config, "classifier_threshold", 0.8))
        self.classifiers = list(classifiers)

    def register(self, classifier: Classifier) -> None:
        """Add a team's classifier; it runs on every answer after the lexicon."""
        self.classifiers.append(classifier)

    def categories(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Lexicon hits by category (spans in text)."""
        hits: dict[str, list[tuple[int, int]]] = {}
        if self._pattern is None or not text:
            return hits
        for m in self._pattern.finditer(text.lower()):
            category = self._categories[int((m.lastgroup or "g0")[1:])]
            hits.setdefault(category, []).append(m.span())
        return {c: spans for c, spans in hits.items() if len(spans) >= self.min_hits}

    def detect(self, call: CallView) -> list[Finding]:
        text = call.output_text
        findings = []
        for category, spans in self.categories(text).items():
            s, e = spans[0]
            findings.append(
                Finding(
                    detector=self.name,
                    kind=category,
                    severity=self.severity.get(category, self.default_severity),
                    confidence=min(0.9, 0.4 + 0.15 * len(spans)),
                    location="output",
                    start=s,
                    end=e,
                    entity=f"lexicon:{len(spans)}",
                    evidence=evidence(text, s, e),
                )
            )
        for classifier in self.classifiers:
            for category, score in classifier.classify(text):
                if score >= self.threshold:
                    findings.append(
                        Finding(
                            detector=self.name,
                            kind=category,
                            severity=self.severity.get(category, self.default_severity),
                            confidence=float(score),
                            location="output",
                            start=None,
                            end=None,
                            entity=f"classifier:{classifier.name}",
                        )
                    )
        return findings
