"""harmful_output: the answer contains harmful content, by category.

Two sources: a lexicon with word senses (senses.py, lexicon.py: the matched term names its
category; a strong term is a finding at confidence 0.95, precise enough to block on, weak cues
only in pairs or beside compliance framing at 0.6, a flag) and any number of plug-in classifiers
a team registers (`Classifier.classify(text) -> [(category, score)]`, reported when score >=
threshold). Profanity and brand disparagement are opt-in: reported only through a policy that
names them. The lexicon is a cheap tripwire, not a moderation model: it cannot tell quoting from
endorsing, and it misses harm phrased in ordinary words (docs/detectors.md has measured figures).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Protocol

from fireline.detect.detectors.base import CallView, Finding, evidence, option, word_list
from fireline.detect.detectors.lexicon import DEFAULT_LEXICON, DEFAULT_OPT_IN, SENSES
from fireline.detect.detectors.senses import Lexicon

DEFAULT_SEVERITY = {"self_harm": "P1", "weapons_cbrn": "P1", "hate": "P2", "profanity": "P3"}
# A finding from a strong term (a slur, a direct threat, a named nerve agent) is precise enough
# to block on (docs/detectors.md has the measured precision); one from weak cues only is a flag.
STRONG_CONFIDENCE = 0.95
WEAK_CONFIDENCE = 0.6


class Classifier(Protocol):
    """A team's own model: scores per category in [0, 1] for a text."""

    name: str

    def classify(self, text: str) -> Iterable[tuple[str, float]]: ...


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
        disabled = set(config.get("disabled_categories") or [])
        for category in disabled:
            lexicon.pop(category, None)
        senses = [*SENSES, *word_list(config, "allow", [])]
        self._lexicon = Lexicon(lexicon, senses, word_list(config, "brands", []))
        # Categories matched only for apps whose policies name them (`policies[].detectors`): the
        # detector itself never reports them; the policy engine asks `categories()` for them.
        # Profanity and brand disparagement are such categories unless the config says otherwise.
        self.opt_in = frozenset(word_list(config, "opt_in_categories", DEFAULT_OPT_IN))
        self.disparagement = "disparagement" not in disabled
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

    def _matches(self, text: str, opt_in: bool = True) -> dict[str, tuple[list[tuple[int, int]], bool]]:
        found = {c: (h.spans, h.strong) for c, h in self._lexicon.hits(text).items()
                 if len(h.spans) >= self.min_hits}
        if self.disparagement and (opt_in or "disparagement" not in self.opt_in):
            spans = self._lexicon.disparagement(text)
            if spans:
                found["disparagement"] = (spans, True)
        return found

    def categories(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Lexicon hits by category (spans in text), opt-in categories included."""
        return {c: spans for c, (spans, _) in self._matches(text).items()}

    def detect(self, call: CallView) -> list[Finding]:
        text = call.output_text
        findings = []
        for category, (spans, strong) in self._matches(text, opt_in=False).items():
            if category in self.opt_in:
                continue
            s, e = spans[0]
            findings.append(
                Finding(
                    detector=self.name,
                    kind=category,
                    severity=self.severity.get(category, self.default_severity),
                    confidence=STRONG_CONFIDENCE if strong else WEAK_CONFIDENCE,
                    location="output",
                    start=s,
                    end=e,
                    entity=f"lexicon:{'term' if strong else 'cues'}:{len(spans)}",
                    evidence=evidence(text, s, e, spans=call.scan_of(text)),
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
