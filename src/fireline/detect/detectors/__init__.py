"""Per-call detectors: build them from the `detectors:` config section and run them on a call.

The detectors but `base` and `semantic` run compiled (mypyc, `make native`) when the build matches
their sources, else as Python: `fireline.native` decides before the first of them is imported."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from fireline import native

native.choose()

from fireline.config_keys import unknown_key  # noqa: E402
from fireline.detect.detectors.base import CallView, Detector, Finding  # noqa: E402
from fireline.detect.detectors.canary import CanaryDetector, CanaryProvider  # noqa: E402
from fireline.detect.detectors.grounding import GroundingDetector  # noqa: E402
from fireline.detect.detectors.harmful_output import Classifier, HarmfulOutputDetector  # noqa: E402
from fireline.detect.detectors.jailbreak import JailbreakDetector  # noqa: E402
from fireline.detect.detectors.output_quality import OutputQualityDetector  # noqa: E402
from fireline.detect.detectors.pii import PiiDetector  # noqa: E402
from fireline.detect.detectors.prompt_injection import PromptInjectionDetector  # noqa: E402
from fireline.detect.detectors.refusal import RefusalDetector  # noqa: E402
from fireline.detect.detectors.secrets import SecretsDetector  # noqa: E402
from fireline.detect.detectors.tool_policy import ArgumentBaseline, ToolPolicyDetector  # noqa: E402
from fireline.errors import failure_summary  # noqa: E402
from fireline.signals import SEVERITIES  # noqa: E402

DETECTOR_NAMES = (
    "pii", "secrets", "canary", "refusal", "prompt_injection", "harmful_output", "jailbreak", "tool_policy",
    "grounding", "output_quality", "semantic",
)  # fmt: skip
OFF_BY_DEFAULT = frozenset({"semantic"})  # needs the `semantic` extra: on with `enabled: true`
# The options each detector reads from `detectors.<name>` (besides `enabled`); any other key is refused.
OPTIONS: dict[str, tuple[str, ...]] = {
    "pii": ("entities", "report_echo", "report_egress", "report_input"),
    "secrets": ("entities", "report_input"),
    "canary": ("tokens",),
    "refusal": ("exceptions", "extra_phrases", "max_offset", "phrases", "severity"),
    "prompt_injection": ("direct_markers", "direct_severity", "extra_markers", "indirect_markers", "indirect_severity",
                         "scan_retrieval", "scan_tools"),
    "harmful_output": ("allow", "brands", "classifier_threshold", "classifiers", "default_severity",
                       "disabled_categories", "lexicon", "min_hits", "opt_in_categories", "severity"),
    "jailbreak": ("default_severity", "min_confidence", "min_shared_words", "min_words", "scan_chars", "severity"),
    "tool_policy": ("apps", "destructive_patterns", "extra_destructive_patterns", "forbid_write", "learn",
                    "min_samples", "z_threshold"),
    "grounding": ("check_support", "flag_without_retrieval"),
    "output_quality": ("threshold",),
    "semantic": ("clusters", "thresholds", "topics"),
}


def build_detectors(
    config: dict[str, dict[str, Any]] | None = None,
    *,
    canaries: CanaryProvider | None = None,
    classifiers: Iterable[Classifier] = (),
    baseline: ArgumentBaseline | None = None,
) -> list[Detector]:
    """Every detector, on unless its section says `enabled: false` (those in OFF_BY_DEFAULT only with
    `enabled: true`); unknown names are an error."""
    config = config or {}
    for name in config:
        if name not in DETECTOR_NAMES:
            raise ValueError(unknown_key("detectors", name, DETECTOR_NAMES))
    factories: dict[str, Callable[[dict[str, Any]], Detector]] = {
        "pii": PiiDetector,
        "secrets": SecretsDetector,
        "canary": lambda c: CanaryDetector(c, canaries),
        "refusal": RefusalDetector,
        "prompt_injection": PromptInjectionDetector,
        "harmful_output": lambda c: HarmfulOutputDetector(c, classifiers),
        "jailbreak": JailbreakDetector,
        "tool_policy": lambda c: ToolPolicyDetector(c, baseline),
        "grounding": GroundingDetector,
        "output_quality": OutputQualityDetector,
        "semantic": _semantic,
    }
    detectors: list[Detector] = []
    for name in DETECTOR_NAMES:
        section = config.get(name) or {}
        if not isinstance(section, dict):
            raise ValueError(f"detectors.{name} must be a mapping")
        for key in section:
            if key != "enabled" and key not in OPTIONS[name]:
                raise ValueError(unknown_key(f"detectors.{name}", key, ("enabled", *OPTIONS[name])))
        for key in ("severity", "default_severity", "direct_severity", "indirect_severity"):
            _check_severity(section.get(key), f"detectors.{name}.{key}")
        for app, rule in (section.get("apps") or {}).items() if name == "tool_policy" else ():
            for key in rule if isinstance(rule, dict) else ():
                if key != "allow_write":
                    raise ValueError(unknown_key(f"detectors.tool_policy.apps.{app}", key, ("allow_write",)))
        if section.get("enabled", name not in OFF_BY_DEFAULT):
            detectors.append(factories[name](section))
    return detectors


def _check_severity(value: Any, where: str) -> None:
    """A severity option is P0..P3, or a mapping of category -> P0..P3 (else every finding would
    carry a severity nothing downstream knows)."""
    if value is None:
        return
    for path, sev in (value.items() if isinstance(value, dict) else [("", value)]):
        if sev not in SEVERITIES:
            raise ValueError(f"{where}{'.' + str(path) if path else ''}: {str(sev)[:20]!r} is not one of "
                             f"{', '.join(SEVERITIES)}")


def _semantic(config: dict[str, Any]) -> Detector:
    from fireline.detect.detectors.semantic import SemanticDetector  # the extra's imports stay lazy

    return SemanticDetector(config)


def run_all(detectors: Iterable[Detector], call: CallView) -> list[Finding]:
    """All findings of all detectors on one call, in detector order. A detector that fails (a
    team's plug-in classifier, say) is logged and counted; it never costs the call its place in
    the log, nor the other detectors their say."""
    findings: list[Finding] = []
    for detector in detectors:
        try:
            findings.extend(detector.detect(call))
        except Exception as exc:
            failures[detector.name] = failures.get(detector.name, 0) + 1
            log.error("detector %s failed on a call: %s", detector.name, failure_summary(exc))
    return findings


log = logging.getLogger("fireline.detect")
failures: dict[str, int] = {}


__all__ = [
    "DETECTOR_NAMES", "ArgumentBaseline", "CallView", "CanaryProvider", "Classifier", "Detector", "Finding",
    "build_detectors", "run_all",
]  # fmt: skip
