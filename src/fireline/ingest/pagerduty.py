"""PagerDuty Events API v2 bodies to Fireline alerts, with PagerDuty's own answers, so a
sender pointed at Fireline instead of events.pagerduty.com works unchanged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fireline.config_keys import Kind
from fireline.db import utcnow
from fireline.ingest import alerts
from fireline.signals import Alert
from fireline.validation import in_utc_range

ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_DEFAULT = {"critical": "P0", "error": "P1", "warning": "P2", "info": "P3"}


class InvalidEvent(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"status": "invalid event", "message": "Event object is invalid", "errors": self.errors}


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def validate(body: Any) -> dict[str, Any]:
    """The checks PagerDuty makes, with its error wording; every problem is listed."""
    if not isinstance(body, dict):
        raise InvalidEvent(["Event object must be a JSON object"])
    errors: list[str] = []
    if _blank(body.get("routing_key")):
        errors.append("'routing_key' is missing or blank")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is missing or invalid (must be one of trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    elif action in ("acknowledge", "resolve") and _blank(dedup):
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    payload = body.get("payload")
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            if _blank(payload.get("summary")):
                errors.append("'payload.summary' is missing or blank")
            elif len(payload["summary"]) > 1024:
                errors.append("'payload.summary' must be at most 1024 characters")
            if _blank(payload.get("source")):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' is missing or invalid (must be one of critical, error, warning, "
                              "info)")
            if payload.get("timestamp") is not None and _when(payload["timestamp"]) is None:
                errors.append("'payload.timestamp' must be an ISO 8601 date-time")
            cd = payload.get("custom_details")
            if cd is not None and not isinstance(cd, dict | str | list | int | float | bool):
                errors.append("'payload.custom_details' is invalid")
    for key in ("images", "links"):
        if body.get(key) is not None and not isinstance(body[key], list):
            errors.append(f"'{key}' must be an array")
    if errors:
        raise InvalidEvent(errors)
    return body


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = in_utc_range(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:  # unparsable, or outside the years 1-9999 in UTC: as if not given
        return None
    return at if at.tzinfo else None


# The keys of the `pagerduty` section (read here and by fireline.ingest.alerts).
KEYS: dict[str, Kind] = {"default_type": "text", "severity": "mapping", "types": "mapping"}


def to_alert(body: dict[str, Any], config_section: Any) -> tuple[str, str, Alert]:
    """(topic, the PagerDuty dedup key, alert). A trigger without dedup_key gets one."""
    cfg = config_section if isinstance(config_section, dict) else {}
    action = body["event_action"]
    dedup = body.get("dedup_key") or uuid.uuid4().hex
    payload: dict[str, Any] = body["payload"] if isinstance(body.get("payload"), dict) else {}
    details = payload.get("custom_details")
    cd = details if isinstance(details, dict) else {}
    sev_map = {**PD_DEFAULT, **{str(k).lower(): str(v).upper() for k, v in (cfg.get("severity") or {}).items()}}
    pd_sev = payload.get("severity")
    fl_sev = cd.get("fireline_severity")
    severity = alerts.severity(fl_sev if isinstance(fl_sev, str) else None, {"severity": sev_map}, "")
    if not severity:
        severity = sev_map.get(str(pd_sev), "P2") if pd_sev else "P2"
    type_hint = cd.get("fireline_type") or cd.get("type") or payload.get("class")
    kind, unknown = alerts.incident_type(type_hint if isinstance(type_hint, str) else None, cfg)
    app = cd.get("app") or cd.get("service") or payload.get("component")
    extra: dict[str, Any] = {
        "event_action": action, "source": payload.get("source"), "pd_severity": pd_sev,
        "component": payload.get("component"), "group": payload.get("group"), "class": payload.get("class"),
        "custom_details": details, "client": body.get("client"), "client_url": body.get("client_url"),
        "links": body.get("links") or [], "images": body.get("images") or [],
    }
    if unknown:
        extra["source_type"] = unknown
    alert = Alert(
        dedup_key=f"pagerduty:{dedup}", source="pagerduty",
        title=(payload.get("summary") or f"PagerDuty {action} {dedup}")[:500], type=kind, severity=severity,
        at=_when(payload.get("timestamp")) or utcnow(), apps=(str(app)[:200],) if app else (),
        signal=str(payload.get("class") or payload.get("source") or "pagerduty")[:200],
        details={k: v for k, v in extra.items() if v is not None},
    )
    return alerts.TOPIC[action], dedup, alert
