"""Alertmanager webhook (payload version 4) to Fireline alerts.

Labels map to the alert per the `alertmanager` config section (docs/ingest.md):
app from `app_labels` (default app, service), severity from `severity_label` (default
severity) through the `severity` map, type from `type_labels` (default fireline_type, type).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from fireline.config_keys import Kind
from fireline.db import utcnow
from fireline.http import validation_error
from fireline.ingest import alerts
from fireline.signals import Alert
from fireline.validation import Instant

ZERO_YEAR = 1900  # Go's zero time (0001-01-01) means "not ended"


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Instant | None = None  # the wire names
    endsAt: Instant | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class AmWebhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=2000)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    truncatedAlerts: int = 0
    alerts: list[AmAlert] = Field(min_length=1, max_length=10_000)


_webhook = TypeAdapter(AmWebhook)


def parse(payload: Any) -> AmWebhook:
    try:
        return _webhook.validate_python(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _label(labels: dict[str, str], names: list[str]) -> str | None:
    for name in names:
        if labels.get(name):
            return labels[name]
    return None


# The keys of the `alertmanager` section (read here and by fireline.ingest.alerts).
KEYS: dict[str, Kind] = {"app_labels": "list", "default_severity": "text", "default_type": "text",
                         "severity": "mapping", "severity_label": "text", "type_labels": "list", "types": "mapping"}


def to_alert(hook: AmWebhook, config_section: Any) -> tuple[str, Alert]:
    """(topic, alert): a firing group fires, a resolved group resolves; one dedup key per group."""
    cfg = config_section if isinstance(config_section, dict) else {}
    app_labels = list(cfg.get("app_labels") or ["app", "service"])
    type_labels = list(cfg.get("type_labels") or ["fireline_type", "type"])
    sev_label = str(cfg.get("severity_label") or "severity")
    firing = [a for a in hook.alerts if a.status == "firing"] or hook.alerts
    apps = sorted({app for a in firing if (app := _label({**hook.commonLabels, **a.labels}, app_labels))})
    severity = alerts.worst(alerts.severity(_label({**hook.commonLabels, **a.labels}, [sev_label]), cfg)
                            for a in firing)
    kind, unknown = alerts.incident_type(_label(hook.commonLabels, type_labels)
                                         or _label(firing[0].labels, type_labels), cfg)
    name = hook.commonLabels.get("alertname") or hook.groupLabels.get("alertname") or firing[0].labels.get(
        "alertname") or "alert"
    summary = hook.commonAnnotations.get("summary") or hook.commonAnnotations.get("title") or firing[0].annotations.get(
        "summary") or name
    count = f" ({len(firing)} alerts)" if len(firing) > 1 else ""
    if hook.status == "firing":
        starts = [a.startsAt for a in firing if a.startsAt and a.startsAt.year > ZERO_YEAR]
        at = min(starts) if starts else utcnow()
    else:
        ends = [a.endsAt for a in hook.alerts if a.endsAt and a.endsAt.year > ZERO_YEAR]
        at = max(ends) if ends else utcnow()
    details: dict[str, Any] = {
        "receiver": hook.receiver, "status": hook.status, "external_url": hook.externalURL,
        "group_labels": hook.groupLabels, "common_labels": hook.commonLabels,
        "common_annotations": hook.commonAnnotations, "truncated_alerts": hook.truncatedAlerts,
        "alerts": [{"status": a.status, "labels": a.labels, "annotations": a.annotations,
                    "starts_at": a.startsAt.isoformat() if a.startsAt else None,
                    "ends_at": a.endsAt.isoformat() if a.endsAt and a.endsAt.year > ZERO_YEAR else None,
                    "generator_url": a.generatorURL, "fingerprint": a.fingerprint} for a in hook.alerts[:100]],
    }
    if unknown:
        details["source_type"] = unknown
    alert = Alert(dedup_key=f"alertmanager:{hook.groupKey}", source="alertmanager", title=f"{summary}{count}"[:500],
                  type=kind, severity=severity, at=at, apps=tuple(apps), signal=name, details=details)
    return alerts.TOPIC[hook.status], alert
