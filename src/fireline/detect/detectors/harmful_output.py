"""harmful_output: the answer contains harmful content, by category.

Two sources: a lexicon (one trie-shaped regex over the lowercased answer; the matched term
names its category) and any number of plug-in classifiers a team registers
(`Classifier.classify(text) -> [(category, score)]`, reported when score >= threshold). The
lexicon is a cheap tripwire, not a moderation model: it cannot tell quoting from endorsing,
and it misses harm phrased in ordinary words (see docs/detectors.md for measured figures).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any, Protocol

try:
    import re2
except ImportError:  # pragma: no cover - the wheel exists for the supported platforms
    re2 = None

from fireline.detect.detectors.base import CallView, Finding, evidence, option, trie_pattern
from fireline.detect.detectors.lexicon import DEFAULT_LEXICON

DEFAULT_SEVERITY = {"self_harm": "P1", "weapons_cbrn": "P1", "hate": "P2"}


class Classifier(Protocol):
    """A team's own model: scores per category in [0, 1] for a text."""

    name: str

    def classify(self, text: str) -> Iterable[tuple[str, float]]: ...


class Lexicon:
    """Every category's terms in one regex; the matched stem names its category, and a stem
    without "*" must end at a word boundary.

    Measured on 2 KB of prose: CPython `re` with a flat alternation of ~250 terms 240 us, with
    the same terms as a trie 67 us, google-re2 (a DFA, linear in the text) ~9 us. RE2 is the
    engine; the `re` trie is kept as the fallback where the wheel is unavailable.
    """

    def __init__(self, lexicon: dict[str, Iterable[str]]) -> None:
        self.terms: dict[str, tuple[str, bool]] = {}  # stem -> (category, prefix allowed)
        for category, terms in lexicon.items():
            for term in terms:
                term = " ".join(term.lower().split())
                if term.strip("*"):
                    self.terms[term.rstrip("*")] = (category, term.endswith("*"))
        self._pattern: Any = None
        if not self.terms:
            return
        if re2 is not None:
            # Longest stem first: RE2 alternation is leftmost-first, like the trie's greediness.
            stems = sorted(self.terms, key=len, reverse=True)
            self._pattern = re2.compile(r"\b(?:" + "|".join(re.escape(t) for t in stems) + ")")
        else:
            self._pattern = re.compile(r"\b" + trie_pattern(sorted(self.terms)))

    def hits(self, text: str) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        if self._pattern is None or not text:
            return out
        low = text.lower()
        n = len(low)
        for m in self._pattern.finditer(low):
            category, prefix = self.terms[m.group()]
            end = m.end()
            if end < n and (low[end].isalnum() or low[end] == "_"):
                if not prefix:
                    continue
                while end < n and (low[end].isalnum() or low[end] == "_"):
                    end += 1
            out.setdefault(category, []).append((m.start(), end))
        return out


def load_classifier(path: str, where: str) -> Classifier:
    """`package.module:name`: a Classifier instance, or a class / factory that makes one."""
    module_name, _, attr = path.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr or "classifier")
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot load {path!r}: {exc}") from exc
    if isinstance(obj, type) or (not hasattr(obj, "classify") and callable(obj)):
        obj = obj()
    if not callable(getattr(obj, "classify", None)):
        raise ValueError(f"{where}: {path!r} has no classify(text) method")
    return obj  # type: ignore[no-any-return]


class HarmfulOutputDetector:
    name = "harmful_output"

    def __init__(self, config: dict[str, Any], classifiers: Iterable[Classifier] = ()) -> None:
        lexicon: dict[str, Iterable[str]] = dict(DEFAULT_LEXICON)
        for category, terms in (config.get("lexicon") or {}).items():
            lexicon[category] = terms
        for category in config.get("disabled_categories") or []:
            lexicon.pop(category, None)
        self._lexicon = Lexicon(lexicon)
        # Categories matched only for apps whose policies name them (`policies[].detectors`): the
        # detector itself never reports them; the policy engine asks `categories()` for them.
        self.opt_in = frozenset(config.get("opt_in_categories") or ())
        self.min_hits = int(option(config, "min_hits", 1))
        self.severity: dict[str, str] = {**DEFAULT_SEVERITY, **(config.get("severity") or {})}
        self.default_severity = str(option(config, "default_severity", "P2"))
        self.threshold = float(option(config, "classifier_threshold", 0.8))
        self.classifiers = list(classifiers)
        for i, path in enumerate(config.get("classifiers") or []):
            self.classifiers.append(load_classifier(str(path), f"detectors.harmful_output.classifiers[{i}]"))

    def register(self, classifier: Classifier) -> None:
        """Add a team's classifier; it runs on every answer after the lexicon."""
        self.classifiers.append(classifier)

    def categories(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Lexicon hits by category (spans in text)."""
        hits = self._lexicon.hits(text)
        return {c: spans for c, spans in hits.items() if len(spans) >= self.min_hits}

    def detect(self, call: CallView) -> list[Finding]:
        text = call.output_text
        findings = []
        for category, spans in self.categories(text).items():
            if category in self.opt_in:
                continue
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
