"""Facts that travel on the event bus between parts (see docs/architecture.md, "Events").

Earlier parts publish; later parts subscribe. Topics and payloads:
- "calls.ingested": calls=list[calls.service.PreparedCall], source=str
- "alert.fired": db=Database, alert=Alert      (detect monitors, Alertmanager, PagerDuty, reports)
- "alert.acknowledged": db=Database, alert=Alert
- "alert.resolved": db=Database, alert=Alert
- "incident.opened": db=Database, incident_id=str, type=str, severity=str, apps=list[str],
                     contain=bool (the rule behind the alert asks for containment)
- "incident.escalated": db=Database, incident_id=str, type=str, severity=str, apps=list[str]
                     (a harm on its calls, or a responder's retype, raised it: containment reconsiders)
- "incident.changed": db=Database, incident_id=str, state=str, actor=str
- "subject.erased": session=Session, user_pseudonym=str, report=ErasureReport
- "calls.purged": session=Session, call_ids=list[str]      (record retention, same transaction)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("P0", "P1", "P2", "P3")


@dataclass(frozen=True, slots=True)
class Alert:
    """A firing (or resolving) signal. The first alert for a dedup key opens an incident;
    later ones attach to the open incident as timeline entries."""

    dedup_key: str
    source: str  # "monitor" | "alertmanager" | "pagerduty" | "report" | ...
    title: str
    type: str  # a TAXONOMY.md type, e.g. "data_leakage"
    severity: str  # "P0".."P3"
    at: datetime
    apps: tuple[str, ...] = ()
    call_ids: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    prompt_versions: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()  # the incident's signature: sessions, API key ids, user pseudonyms
    keys: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    monitor: str | None = None
    signal: str | None = None  # the detector/metric behind it, for the triage matrix
    details: dict[str, Any] = field(default_factory=dict)


TUPLE_FIELDS = ("apps", "call_ids", "tenants", "models", "prompt_versions", "tools", "sessions", "keys", "users")


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """An alert as stored in the outbox (tuples as lists, the time as ISO 8601)."""
    data: dict[str, Any] = {name: getattr(alert, name) for name in Alert.__dataclass_fields__}
    data["at"] = alert.at.isoformat()
    for name in TUPLE_FIELDS:
        data[name] = list(data[name])
    return data


def alert_of(value: Alert | dict[str, Any]) -> Alert:
    """An Alert from itself or from its stored JSON (a redelivered outbox entry)."""
    if isinstance(value, Alert):
        return value
    data = dict(value)
    data["at"] = datetime.fromisoformat(data["at"])
    for name in TUPLE_FIELDS:
        data[name] = tuple(data.get(name) or ())
    known = Alert.__dataclass_fields__
    return Alert(**{k: v for k, v in data.items() if k in known})
