"""Output detectors run inline for guardrail_threshold controls.

Uses the detect part's registry (fireline.detect.detectors.build_detectors) when present;
otherwise the PII and secret scanner alone, so a guardrail still blocks leaked PII.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireline import pii
from fireline.errors import failure_summary

log = logging.getLogger("fireline.gateway")
SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


@dataclass(frozen=True, slots=True)
class Hit:
    detector: str
    kind: str
    severity: str
    start: int | None
    end: int | None
    confidence: float = 1.0


class InlineDetectors:
    def __init__(self, config: dict[str, dict[str, Any]] | None,
                 canaries: Callable[[], dict[str, str]] | None = None) -> None:
        self.detectors: list[Any] = []
        self.view_cls: Any = None
        try:
            from fireline.detect.detectors import build_detectors  # type: ignore[attr-defined]
            from fireline.detect.detectors.base import CallView

            # The tenants' canary tokens come from the detect part's cache, so a guardrail can block
            # a cross-tenant leak before the user sees it.
            self.detectors = list(build_detectors(config or {}, canaries=canaries))
            self.view_cls = CallView
        except Exception as exc:  # the detect part is optional for the gateway
            log.info("inline detectors: using the PII/secret scanner only (%s)", exc)

    def findings(self, view: Any) -> list[Any]:
        """Every detector's findings on a call view (policies that name detectors read these)."""
        out: list[Any] = []
        for det in self.detectors:
            try:
                out.extend(det.detect(view))
            except Exception as exc:
                log.error("inline detector %s failed: %s", getattr(det, "name", det), failure_summary(exc))
        return out

    def output_hits(self, record: dict[str, Any]) -> list[Hit]:
        """Findings located in the output of `record` (the CONTRACT call JSON)."""
        if self.view_cls is None:
            hits = []
            for entity, start, end in pii.scan(record.get("output") or ""):
                if entity in pii.CONTEXT_TYPES:
                    continue  # a name or a city in an answer is not a leak to block
                detector = "secrets" if entity in pii.SECRET_TYPES else "pii"
                hits.append(Hit(detector, entity, "P1", start, end))
            return hits
        view = self.view_cls.from_record(record)
        out: list[Hit] = []
        for det in self.detectors:
            try:
                found = det.detect(view)
            except Exception as exc:
                log.error("inline detector %s failed: %s", getattr(det, "name", det), failure_summary(exc))
                continue
            for f in found:
                if f.location in ("output", "tool"):
                    out.append(Hit(f.detector, f.kind, f.severity, f.start if f.location == "output" else None,
                                   f.end if f.location == "output" else None, f.confidence))
        return out


_GUARDRAIL_ENTITIES = (pii.PII_TYPES - pii.CONTEXT_TYPES) | pii.SECRET_TYPES


def select(hits: list[Hit], params: dict[str, Any]) -> list[Hit]:
    """The hits a guardrail control cares about: its detectors (all when absent) at or above
    min_severity and min_confidence (a playbook's guardrail blocks only precise findings; the
    others stay findings, flagged)."""
    names = params.get("detectors")
    wanted = set(names) if names else None
    floor = SEVERITY_RANK.get(str(params.get("min_severity") or "P3"), 3)
    sure = float(params.get("min_confidence") or 0.0)
    return [h for h in hits if (wanted is None or h.detector in wanted or h.kind in wanted)
            and SEVERITY_RANK.get(h.severity, 3) <= floor and h.confidence >= sure]


def redact(text: str, hits: list[Hit]) -> str:
    """PII and secrets replaced by <TYPE>, and every other located hit by [REDACTED]."""
    spans = sorted({(h.start, h.end, f"<{h.kind}>" if h.detector in ("pii", "secrets") else "[REDACTED]")
                    for h in hits if h.start is not None and h.end is not None}, reverse=True)
    limit = len(text) + 1
    for start, end, label in spans:
        if end > limit:  # overlaps a span already replaced
            continue
        text = text[:start] + label + text[end:]
        limit = start
    # What the end user sees: identifiers and secrets go, names and places in the answer stay.
    redacted, _ = pii.redact(text, _GUARDRAIL_ENTITIES)
    return redacted
