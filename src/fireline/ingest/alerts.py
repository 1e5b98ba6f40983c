"""Shared by the Alertmanager and PagerDuty receivers: severity/type/app mapping and publishing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fireline.db import Database
from fireline.signals import SEVERITIES, Alert

TYPES = frozenset({
    "harmful_output", "policy_bypass", "data_leakage", "hallucination", "agentic_harm", "prompt_injection", "bias",
    "quality_degradation", "capability_loss", "cost_runaway", "distribution_shift", "data_poisoning",
    "model_extraction", "availability",
})
DEFAULT_SEVERITY = {"critical": "P0", "page": "P1", "high": "P1", "error": "P1", "major": "P1",
                    "warning": "P2", "warn": "P2", "medium": "P2", "minor": "P3", "info": "P3", "low": "P3",
                    "none": "P3"}
TOPIC = {"trigger": "alert.fired", "firing": "alert.fired", "acknowledge": "alert.acknowledged",
         "resolve": "alert.resolved", "resolved": "alert.resolved"}


def _section(config_section: Any) -> dict[str, Any]:
    return config_section if isinstance(config_section, dict) else {}


def severity(value: str | None, config_section: Any, default: str = "P2") -> str:
    """A source severity to P0..P3: P0..P3 as is, else the section's `severity` map, else the defaults."""
    if not value:
        return _section(config_section).get("default_severity", default)
    v = value.strip()
    if v.upper() in SEVERITIES:
        return v.upper()
    mapping = {**DEFAULT_SEVERITY, **{str(k).lower(): str(s).upper()
                                       for k, s in (_section(config_section).get("severity") or {}).items()}}
    got = mapping.get(v.lower())
    return got if got in SEVERITIES else _section(config_section).get("default_severity", default)


def worst(severities: Iterable[str]) -> str:
    found = [s for s in severities if s in SEVERITIES]
    return min(found) if found else "P2"


def incident_type(value: str | None, config_section: Any) -> tuple[str, str | None]:
    """(type, the unrecognised source value or None). Unknown types fall back to the default."""
    default = _section(config_section).get("default_type", "availability")
    if not value:
        return default, None
    norm = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
    aliases = _section(config_section).get("types") or {}
    norm = str(aliases.get(norm, norm))
    return (norm, None) if norm in TYPES else (default, value)


def publish(db: Database, topic: str, alert: Alert) -> None:
    """Hand the alert to the incidents part (synchronous handlers, run off the event loop).
    Raises events.HandlerFailed when it could not be recorded, so the receiver answers 503 and
    the sender retries (the dedup key makes the retry attach instead of opening a second one)."""
    db.bus.publish_strict(topic, db=db, alert=alert)
