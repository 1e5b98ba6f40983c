"""The seam to the incidents part: timeline entries, evidence snapshots, incident reads and the
`contain` move. Without the incidents package every call degrades to a no-op (or NotFound for
an incident id), so the control plane runs on its own.

Incidents functions given a Session queue their events in it; `publish_pending` releases them
after our commit (fireline.incidents.bus).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.auth import service as keys
from fireline.calls.models import Call
from fireline.db import Database
from fireline.errors import NotFound

log = logging.getLogger("fireline.controls")

try:
    from fireline.incidents import bus as _bus
    from fireline.incidents import evidence as _evidence
    from fireline.incidents import lifecycle as _lifecycle
    from fireline.incidents import service as _incidents
    from fireline.incidents import timeline as _timeline
    from fireline.incidents.models import IncidentCall
except ImportError:  # pragma: no cover - the control plane without the incidents part
    _incidents = None  # type: ignore[assignment]


def available() -> bool:
    return _incidents is not None


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    id: str
    type: str
    severity: str
    state: str
    apps: tuple[str, ...]
    playbook: str | None = None
    tools: tuple[str, ...] = ()
    # The signature a playbook scopes its actions to (sessions, API key ids, tenants).
    tenants: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    scope_by: str | None = None
    detected_at: datetime | None = None
    onset_at: datetime | None = None  # where the rate changed (detect.onset), when known
    first_call_at: datetime | None = None  # the earliest linked call


def get_incident(session: Session, incident_id: str) -> IncidentInfo:
    if _incidents is None:
        raise NotFound(f"no incident {incident_id}: the incidents part is not installed", field="incident_id")
    inc = _incidents.get_incident(session, incident_id)
    scope = inc.scope or {}
    first = session.scalar(select(func.min(Call.started_at)).where(Call.id.in_(
        select(IncidentCall.call_id).where(IncidentCall.incident_id == inc.id))))
    by = list(scope.get("scope_by") or ())
    return IncidentInfo(id=inc.id, type=inc.type, severity=inc.severity, state=inc.state,
                        apps=tuple(scope.get("apps") or ()), playbook=inc.playbook,
                        tools=tuple(scope.get("tools") or ()), tenants=tuple(scope.get("tenants") or ()),
                        sessions=tuple(scope.get("sessions") or ()), keys=tuple(scope.get("keys") or ()),
                        scope_by=str(by[0]) if by else None, detected_at=inc.detected_at,
                        onset_at=getattr(inc, "onset_at", None), first_call_at=first)


def check_incident(session: Session, incident_id: str) -> None:
    """NotFound (naming incident_id) unless the incident exists."""
    if _incidents is None:
        raise NotFound(f"no incident {incident_id}: the incidents part is not installed", field="incident_id")
    try:
        _incidents.get_incident(session, incident_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="incident_id") from exc


def append_timeline(session: Session, incident_id: str, kind: str, actor: str, data: dict[str, Any]) -> None:
    if _incidents is not None:
        _timeline.append_timeline(session, incident_id, kind, actor, data)


def take_snapshot(session: Session, incident_id: str, actor: str, reason: str) -> str | None:
    """Freeze evidence before a mutation; a failure propagates so the control is not applied."""
    if _incidents is None:
        return None
    return str(_evidence.take_snapshot(session, incident_id, actor, reason).id)


def mark_contained(session: Session, incident_id: str, actor: str) -> bool:
    """Move the incident to `contained` when it is detected or acknowledged (False otherwise)."""
    if _incidents is None:
        return False
    inc = _timeline.lock_incident(session, incident_id)
    if "contain" not in _lifecycle.TRANSITIONS.get(inc.state, {}):
        return False
    _lifecycle.transition_locked(session, inc, "contain", actor, "containment in force")
    return True


def revoke_key(session: Session, incident_id: str, key_id: str, actor: str, reason: str) -> None:
    """Revoke an API key for an incident (a playbook's revoke_key), on the incident's timeline."""
    row = keys.revoke_key(session, key_id)
    append_timeline(session, incident_id, "key_revoked", actor, {"key_id": key_id, "role": row.role,
                                                                 "reason": reason})


def publish_pending(db: Database, session: Session) -> None:
    """Release the incidents events queued in `session` (call after its commit)."""
    if _incidents is not None:
        _bus.publish_pending(db, session)


def discard_pending(session: Session) -> None:
    if _incidents is not None:
        _bus.discard_pending(session)

