"""Links between incidents, written on both timelines: "related" (a responder says two incidents
are about one thing), "merged" (one incident folded into another, which carries on) and "repeat"
(the failure came back after its incident was over: a new incident, linked to the old one).

A merge moves the calls, scope and dedup keys of the merged incident to the one it joins (the
highest severity wins), freezes the evidence of the survivor (its snapshot holds the calls), and
ends the merged one in state `merged` (`merged_into` names the survivor). "incident.merged"
(durable) lets the controls part move the merged incident's controls to the survivor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fireline.db import Database, insert_for, utcnow
from fireline.errors import Conflict, Invalid
from fireline.incidents import bus, correlate
from fireline.incidents.evidence import snapshot_locked
from fireline.incidents.lifecycle import ACTIVE, transition_locked
from fireline.incidents.models import Incident, IncidentCall, IncidentDedup, IncidentLink
from fireline.incidents.scope import merge_scope
from fireline.incidents.sla import current_config, policy
from fireline.incidents.timeline import append_locked, lock_incident, stamp

OVER = ("resolved", "closed")  # incidents a new alert can be a repeat of
ENDED = ("closed", "false_positive", "merged")
SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
# How each side of a stored link reads: (kind, this incident is the row's incident_id) -> name.
NAMES = {("related", True): "related", ("related", False): "related", ("merged", True): "merged_into",
         ("merged", False): "merged_from", ("repeat", True): "repeat_of", ("repeat", False): "repeated_by"}


def links_of(session: Session, incident_id: str) -> list[dict[str, Any]]:
    """Both directions: [{"id", "kind": related | merged_into | merged_from | repeat_of | repeated_by,
    "actor", "reason", "at"}], oldest first."""
    rows = session.scalars(select(IncidentLink).where(
        or_(IncidentLink.incident_id == incident_id, IncidentLink.other_id == incident_id))
        .order_by(IncidentLink.created_at, IncidentLink.id))
    out = []
    for r in rows:
        mine = r.incident_id == incident_id
        out.append({"id": r.other_id if mine else r.incident_id, "kind": NAMES[(r.kind, mine)],
                    "actor": r.actor, "reason": r.reason, "at": stamp(r.created_at)})
    return out


def _store(session: Session, inc: Incident, other: Incident, kind: str, actor: str, reason: str | None,
           now: datetime) -> bool:
    insert = insert_for(session.get_bind().dialect.name)
    stmt = insert(IncidentLink).values(incident_id=inc.id, other_id=other.id, kind=kind, actor=actor,
                                       reason=reason, created_at=now).on_conflict_do_nothing()
    return bool(session.execute(stmt.returning(IncidentLink.id)).first())


def _pair(session: Session, a_id: str, b_id: str) -> tuple[Incident, Incident]:
    """Both incidents, locked in id order (two responders linking the same pair cannot deadlock)."""
    if a_id == b_id:
        raise Invalid(f"an incident cannot be linked to itself ({a_id})", field="other")
    first, second = sorted((a_id, b_id))
    locked = {first: lock_incident(session, first), second: lock_incident(session, second)}
    a, b = locked[a_id], locked[b_id]
    if a.drill != b.drill:
        raise Conflict(f"{a.id} is {'a drill' if a.drill else 'real'} and {b.id} is "
                       f"{'a drill' if b.drill else 'real'}: drills stay apart from real incidents")
    return a, b


def link(target: Database | Session, incident_id: str, other_id: str, actor: str,
         reason: str | None = None) -> list[dict[str, Any]]:
    """Mark two incidents as related (idempotent); answers the links of `incident_id`."""
    def run(session: Session) -> list[dict[str, Any]]:
        inc, other = _pair(session, incident_id, other_id)
        now = utcnow()
        known = session.scalar(select(IncidentLink.id).where(IncidentLink.kind == "related", or_(
            (IncidentLink.incident_id == inc.id) & (IncidentLink.other_id == other.id),
            (IncidentLink.incident_id == other.id) & (IncidentLink.other_id == inc.id))))
        if known is None and _store(session, inc, other, "related", actor, reason, now):
            append_locked(session, inc, "related", actor, {"incident_id": other.id, "reason": reason}, at=now)
            append_locked(session, other, "related", actor, {"incident_id": inc.id, "reason": reason}, at=now)
        return links_of(session, inc.id)
    return bus.within(target, run)


def escalate(session: Session, inc: Incident, severity: str, actor: str, reason: str) -> bool:
    """Raise the severity when `severity` is higher (the highest wins); due times follow from
    detection, and "incident.escalated" lets auto-containment and notifications act on it."""
    if SEVERITY_RANK.get(severity, 9) >= SEVERITY_RANK.get(inc.severity, 9):
        return False
    before = inc.severity
    inc.severity = severity
    policy().set_due(inc)
    append_locked(session, inc, "severity", actor, {
        "from": before, "to": severity, "reason": reason,
        "ack_due_at": stamp(inc.ack_due_at) if inc.ack_due_at else None,
        "contain_due_at": stamp(inc.contain_due_at) if inc.contain_due_at else None})
    bus.emit(session, "incident.escalated", durable=True, incident_id=inc.id, type=inc.type, severity=severity,
             apps=list((inc.scope or {}).get("apps", [])), drill=inc.drill)
    return True


def merge(target: Database | Session, incident_id: str, into_id: str, actor: str, reason: str) -> Incident:
    """Fold `incident_id` into `into_id`: calls, scope and keys move, the survivor is snapshotted,
    the merged incident ends as `merged`. Answers the survivor."""
    if not reason.strip():
        raise Invalid("reason: a merge needs a reason", field="reason")

    def run(session: Session) -> Incident:
        src, into = _pair(session, incident_id, into_id)
        if into.state in ENDED:
            raise Conflict(f"cannot merge into {into.id}: it is {into.state}", state=into.state, allowed=[])
        if src.state in ENDED:
            raise Conflict(f"cannot merge {src.id}: it is {src.state}", state=src.state, allowed=[])
        now = utcnow()
        calls = list(session.scalars(select(IncidentCall.call_id).where(IncidentCall.incident_id == src.id)))
        moved = 0
        if calls:
            insert = insert_for(session.get_bind().dialect.name)
            stmt = insert(IncidentCall).on_conflict_do_nothing().returning(IncidentCall.call_id)
            moved = len(session.scalars(stmt, [{"incident_id": into.id, "call_id": c, "linked_at": now}
                                               for c in calls]).all())
        merge_scope(session, into, src.scope or {}, source=src)
        if into.state in ACTIVE:  # the survivor answers for the merged incident's keys from now on
            session.execute(update(IncidentDedup).where(IncidentDedup.incident_id == src.id)
                            .values(incident_id=into.id).execution_options(synchronize_session=False))
        _store(session, src, into, "merged", actor, reason, now)
        entry = append_locked(session, into, "merged", actor, {"from": src.id, "calls": moved,
                                                               "severity": src.severity, "reason": reason}, at=now)
        into.changed_seq = entry.seq
        escalate(session, into, src.severity, actor, f"merged {src.id} ({src.severity})")
        snapshot_locked(session, into, actor, f"merged {src.id}")  # its calls are held by the survivor now
        append_locked(session, src, "merged", actor, {"into": into.id, "calls": len(calls), "reason": reason},
                      at=now)
        src.merged_into = into.id
        transition_locked(session, src, "merge", actor, f"merged into {into.id}: {reason}", now=now)
        # Later parts follow (the controls part re-points the merged incident's controls).
        bus.emit(session, "incident.merged", durable=True, incident_id=src.id, into=into.id, actor=actor)
        return into
    return bus.within(target, run)


def repeat_window() -> timedelta:
    days = float((current_config().section("incidents") or {}).get("repeat_window_days", 7))
    return timedelta(days=max(days, 0.0))


def previous(session: Session, own: str, family: str, apps: list[str], drill: bool,
             now: datetime, states: tuple[str, ...] = OVER) -> Incident | None:
    """The incident, over within the repeat window, that an alert with these keys repeats: the
    same dedup key, or the same family on one of the same apps; the most recent one."""
    since = now - repeat_window()
    rows = session.scalars(select(Incident).where(
        Incident.state.in_(states), Incident.drill.is_(drill),
        or_(Incident.resolved_at >= since, Incident.closed_at >= since))
        .order_by(Incident.detected_at.desc()).limit(50))
    for inc in rows:
        scope = inc.scope or {}
        if own in (scope.get("dedup_keys") or []) or inc.dedup_key == own:
            return inc
        if correlate.family(inc.type) == family and set(apps) & set(scope.get("apps") or []):
            return inc
    return None


def mark_repeat(session: Session, new: Incident, old: Incident, actor: str) -> None:
    now = utcnow()
    old = lock_incident(session, old.id)
    _store(session, new, old, "repeat", actor, None, now)
    ended = old.resolved_at or old.closed_at
    append_locked(session, new, "repeat", actor, {"of": old.id, "previous_state": old.state,
                                                  "previous_ended_at": stamp(ended) if ended else None}, at=now)
    append_locked(session, old, "repeat", actor, {"by": new.id}, at=now)
