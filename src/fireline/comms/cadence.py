"""Incident updates and the update cadence.

An update is recorded on the timeline ("update") and in `comms_updates`; a public one also
appears on the status page. For the severities in `comms.cadence` (P0 and P1 every 30
minutes by default) the comms lead, or the commander when there is none, is reminded while
the incident is active and nothing was posted for that long: a timeline entry
("update_reminder") and a notification through the routes (event "update_reminder").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.comms.delivery import ACTOR, Event, Runtime
from fireline.comms.models import IncidentComms, Update
from fireline.incidents.lifecycle import ACTIVE
from fireline.incidents.models import Incident
from fireline.incidents.timeline import append_locked, lock_incident, stamp

PHASES = {"detected": "investigating", "acknowledged": "investigating", "contained": "monitoring",
          "resolved": "resolved", "closed": "resolved", "false_positive": "resolved", "merged": "resolved"}


def impact(inc: Incident) -> str:
    """What an incident means for its apps as a public state: an uncontained P0 is a major outage,
    any other P0-P2 degraded, a P3 or an incident that is over leaves them operational."""
    if inc.state not in ACTIVE:
        return "operational"
    if inc.severity == "P0" and inc.state != "contained":
        return "major_outage"
    return "degraded" if inc.severity in ("P0", "P1", "P2") else "operational"


def update_json(u: Update) -> dict[str, Any]:
    return {"id": u.id, "incident_id": u.incident_id, "at": stamp(u.at), "actor": u.actor, "message": u.message,
            "public": u.public, "status": u.status, "impact": u.impact}


def post_update(session: Session, incident_id: str, message: str, public: bool, actor: str,
                now: datetime, impact_: str | None = None) -> Update:
    """Record an update; a public one declares the impact the status page shows for the incident's
    public apps (given, else the incident's impact now), frozen until the next public update."""
    inc = lock_incident(session, incident_id)
    row = Update(incident_id=inc.id, at=now, actor=actor, message=message, public=public,
                 status=PHASES.get(inc.state, "investigating"),
                 impact=(impact_ or impact(inc)) if public else None)
    session.add(row)
    session.flush()
    append_locked(session, inc, "update", actor, {"update_id": row.id, "message": message, "public": public,
                                                  "status": row.status, "impact": row.impact}, at=now)
    return row


def updates(session: Session, incident_id: str, *, public_only: bool = False) -> list[Update]:
    stmt = select(Update).where(Update.incident_id == incident_id)
    if public_only:
        stmt = stmt.where(Update.public.is_(True))
    return list(session.scalars(stmt.order_by(Update.at, Update.id)))


def due_reminders(session: Session, rt: Runtime, now: datetime) -> list[Event]:
    """Record a reminder for each active incident whose cadence ran out (in the caller's transaction)."""
    cadence = rt.cfg.comms.cadence
    if not cadence:
        return []
    last_update = (select(Update.incident_id, func.max(Update.at).label("at"))
                   .group_by(Update.incident_id).subquery())
    rows = session.execute(select(Incident, last_update.c.at, IncidentComms)
                           .outerjoin(last_update, last_update.c.incident_id == Incident.id)
                           .outerjoin(IncidentComms, IncidentComms.incident_id == Incident.id)
                           .where(Incident.state.in_(ACTIVE), Incident.severity.in_(list(cadence)))).all()
    out: list[Event] = []
    for inc, updated_at, meta in rows:
        if isinstance(updated_at, str):  # SQLite hands an aggregate of a subquery back as text
            updated_at = datetime.fromisoformat(updated_at)
        if updated_at is not None and updated_at.tzinfo is None:
            updated_at = updated_at.replace(tzinfo=now.tzinfo)
        since = updated_at or inc.detected_at  # the clock starts at detection
        base = max(since, meta.last_reminder_at) if meta and meta.last_reminder_at else since
        if now - base < cadence[inc.severity]:
            continue
        if meta is None:
            meta = IncidentComms(incident_id=inc.id, high_risk=False)
            session.add(meta)
        meta.last_reminder_at = now
        who = (inc.roles or {}).get("comms_lead") or inc.commander
        data = {"to": who, "role": "comms_lead" if (inc.roles or {}).get("comms_lead") else "commander",
                "last_update_at": stamp(updated_at) if updated_at else None,
                "seconds_since_update": int((now - since).total_seconds()),
                "cadence_s": int(cadence[inc.severity].total_seconds())}
        append_locked(session, lock_incident(session, inc.id), "update_reminder", ACTOR, data, at=now)
        email = rt.cfg.notifications.contacts.get(who) if who else None
        out.append(Event("update_reminder", inc.id, {**data, "email": email}))
    return out


def check(rt: Runtime, now: datetime) -> None:
    with rt.db.writing() as session:
        events = due_reminders(session, rt, now)
    for ev in events:
        rt.submit(ev)
