"""Shared builders for the incidents tests: alerts, and calls stored with chosen findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.calls import service as calls_service
from fireline.calls.schemas import CallIn
from fireline.db import Database, utcnow
from fireline.signals import Alert

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def alert(key: str = "leak:support-bot", **over: Any) -> Alert:
    fields: dict[str, Any] = {"dedup_key": key, "source": "monitor", "title": "PII in outputs",
                              "type": "data_leakage", "severity": "P1", "at": utcnow(),
                              "apps": ("support-bot",), "call_ids": (), "tenants": ("acme",),
                              "models": ("gpt-4o",), "prompt_versions": ("v12",), "monitor": "pii-any",
                              "signal": "pii"}
    fields.update(over)
    return Alert(**fields)


def backdate(db: Database, incident_id: str, delta: timedelta | None = None, *, to: datetime | None = None) -> None:
    """Move an incident's detection and SLA due times into the past, as if it opened `delta` ago
    (or at `to`)."""
    from fireline.incidents.models import Incident

    with db.writing() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        if to is not None:
            delta = inc.detected_at - to
        assert delta is not None
        inc.detected_at -= delta
        inc.ack_due_at = inc.ack_due_at - delta if inc.ack_due_at else None
        inc.contain_due_at = inc.contain_due_at - delta if inc.contain_due_at else None


def finding(entity: str = "EMAIL_ADDRESS", kind: str = "pii_leak", detector: str = "pii") -> dict[str, Any]:
    return {"detector": detector, "kind": kind, "entity": entity, "severity": "P1", "confidence": 0.9,
            "location": "output", "item": None, "start": 0, "end": 5, "evidence": "[EMAIL]"}


def store_calls(db: Database, specs: list[dict[str, Any]]) -> list[str]:
    """Store calls with exactly the findings given (no detectors run): spec keys are CallIn
    fields plus `findings` (a list of finding dicts) and `minutes` (offset from T0)."""
    prepared = []
    now = utcnow()
    for i, spec in enumerate(specs):
        spec = dict(spec)
        found = spec.pop("findings", [])
        minutes = spec.pop("minutes", i)
        body = {"id": f"call-{i}", "app": "support-bot", "tenant": "acme", "session_id": f"s-{i}",
                "user": f"user{i}@example.com", "model": "gpt-4o", "prompt_version": "v12",
                "input": [{"role": "user", "content": "What is my order status?"}],
                "output": f"Sure, bob{i}@example.com, it ships tomorrow.",
                "started_at": (T0 + timedelta(minutes=minutes)).isoformat(), **spec}
        p = calls_service.prepare(CallIn.model_validate(body), now)
        p.findings = list(found)
        p.row["finding_count"] = len(found)
        prepared.append(p)
    return [p.id for p in calls_service.store(db, prepared)]
