"""The labelling queue: sample an incident's affected answers and categorise them by hand.

"Sample 50 affected outputs; categorise": the queue is the incident's linked calls that nobody
labelled yet, in a stable pseudo-random order (a hash of incident and call id, so two people
working the queue see the same sample and it does not favour the first or the last calls). Labels
are `factual_error`, `invented_citation`, `confabulation`, `other` and `correct` (the sample's
false positives); their counts go into the post-mortem.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.db import insert_for, utcnow
from fireline.errors import Invalid, NotFound
from fireline.incidents.models import IncidentCall
from fireline.incidents.service import get_incident
from fireline.investigate.models import Label

LABELS = ("factual_error", "invented_citation", "confabulation", "other", "correct")
MAX_SAMPLE = 200


def _order(incident_id: str, call_id: str) -> str:
    return hashlib.sha256(f"{incident_id}:{call_id}".encode()).hexdigest()


def queue(session: Session, incident_id: str, n: int = 50) -> dict[str, Any]:
    """Up to `n` unlabelled affected calls (redacted answer, findings), and how many remain."""
    get_incident(session, incident_id)
    linked = set(session.scalars(select(IncidentCall.call_id).where(IncidentCall.incident_id == incident_id)))
    done = set(session.scalars(select(Label.call_id).where(Label.incident_id == incident_id)))
    todo = sorted(linked - done, key=lambda c: _order(incident_id, c))
    picked = todo[:max(1, min(n, MAX_SAMPLE))]
    calls = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(picked)))} if picked else {}
    findings: dict[str, list[str]] = {}
    if picked:
        for f in session.scalars(select(CallFinding).where(CallFinding.call_id.in_(picked))):
            findings.setdefault(f.call_id, []).append(f"{f.detector}/{f.kind}")
    items = []
    for cid in picked:
        call = calls.get(cid)
        if call is None:
            continue  # erased or purged since it was linked
        content = orjson.loads(call.content)
        items.append({"call_id": cid, "started_at": call.started_at.isoformat(), "app": call.app,
                      "model": call.model_resolved or call.model, "output": content.get("output"),
                      "findings": findings.get(cid, [])})
    return {"incident_id": incident_id, "labels": list(LABELS), "calls": items, "remaining": len(todo),
            "labelled": len(done)}


def add(session: Session, incident_id: str, call_id: str, label: str, *, actor: str,
        note: str | None = None) -> dict[str, Any]:
    """Label one affected call (labelling it again replaces the label)."""
    if label not in LABELS:
        raise Invalid(f"label: one of {', '.join(LABELS)}", field="label")
    get_incident(session, incident_id)
    linked = session.scalar(select(func.count()).where(IncidentCall.incident_id == incident_id,
                                                       IncidentCall.call_id == call_id))
    if not linked:
        raise NotFound(f"call_id: call {call_id} is not linked to incident {incident_id}", field="call_id")
    insert = insert_for(session.get_bind().dialect.name)
    at = utcnow()
    row: dict[str, Any] = {"incident_id": incident_id, "call_id": call_id, "label": label, "note": note,
                           "actor": actor, "at": at}
    session.execute(insert(Label).values(**row).on_conflict_do_update(
        index_elements=["incident_id", "call_id"], set_={"label": label, "note": note, "actor": actor, "at": at}))
    return {**row, "at": at.isoformat()}


def counts(session: Session, incident_id: str) -> dict[str, Any]:
    """Labels per category, and the share of the labelled sample each is (for the post-mortem)."""
    rows = dict(session.execute(select(Label.label, func.count()).where(Label.incident_id == incident_id)
                                .group_by(Label.label)).all())
    total = sum(rows.values())
    return {"labelled": total, "counts": {k: int(rows.get(k, 0)) for k in LABELS},
            "shares": {k: round(rows.get(k, 0) / total, 4) if total else 0.0 for k in LABELS}}


def listing(session: Session, incident_id: str) -> list[dict[str, Any]]:
    return [{"call_id": r.call_id, "label": r.label, "note": r.note, "actor": r.actor, "at": r.at.isoformat()}
            for r in session.scalars(select(Label).where(Label.incident_id == incident_id).order_by(Label.at))]
