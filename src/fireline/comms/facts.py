"""What comms and post-mortems read off the record of one incident: the incident, its blast
radius (the incidents part's), the controls applied for it, its personal-data exposure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.calls.models import CallFinding
from fireline.comms.models import IncidentComms
from fireline.controls.models import ControlRow
from fireline.incidents.blast import blast_radius
from fireline.incidents.models import Incident, IncidentCall
from fireline.incidents.service import get_incident
from fireline.incidents.timeline import stamp

# PII findings that are not an exposure: what users typed about themselves.
NOT_EXPOSURE = ("pii_input",)


@dataclass(slots=True)
class Facts:
    incident: Incident
    blast: dict[str, Any]
    linked_pii: dict[str, int]  # PII findings on the linked calls, by entity
    controls: list[dict[str, Any]]
    comms: IncidentComms | None

    @property
    def pii(self) -> dict[str, int]:
        """Entity -> count: the blast radius where known, else the linked calls' findings."""
        return dict(self.blast.get("pii") or {}) or dict(self.linked_pii)

    @property
    def personal_data(self) -> bool:
        return bool(self.pii)

    @property
    def high_risk(self) -> bool:
        return bool(self.comms and self.comms.high_risk)


def linked_pii(session: Session, incident_id: str) -> dict[str, int]:
    linked = select(IncidentCall.call_id).where(IncidentCall.incident_id == incident_id)
    rows = session.execute(select(CallFinding.entity, func.count()).where(
        CallFinding.call_id.in_(linked), CallFinding.detector == "pii", CallFinding.entity.is_not(None),
        CallFinding.kind.not_in(NOT_EXPOSURE)).group_by(CallFinding.entity))
    return {str(e): int(n) for e, n in rows}


def control_json(c: ControlRow) -> dict[str, Any]:
    return {"id": c.id, "kind": c.kind, "scope": {k: v for k, v in (c.scope or {}).items() if v},
            "reason": c.reason, "actor": c.actor, "applied_at": stamp(c.created_at),
            "reverted_at": stamp(c.reverted_at) if c.reverted_at else None}


def controls_for(session: Session, incident_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(ControlRow).where(ControlRow.incident_id == incident_id)
                           .order_by(ControlRow.created_at, ControlRow.id))
    return [control_json(c) for c in rows]


def describe_control(c: dict[str, Any]) -> str:
    scope = ", ".join(f"{k} {v}" for k, v in c["scope"].items()) or "everywhere"
    state = f", reverted {c['reverted_at'][:16]}" if c.get("reverted_at") else ""
    return f"{c['kind'].replace('_', ' ')} ({scope}) applied {c['applied_at'][:16].replace('T', ' ')} UTC{state}"


def gather(session: Session, incident_id: str) -> Facts:
    inc = get_incident(session, incident_id)
    # Read on every incident event: never a change-point test of the log here (the stored onset).
    blast = blast_radius(session, inc, place=False)
    return Facts(incident=inc, blast=blast, linked_pii=linked_pii(session, incident_id),
                 controls=controls_for(session, incident_id), comms=session.get(IncidentComms, incident_id))
