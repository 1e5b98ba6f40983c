"""The incident state machine as data, and the one function that moves an incident.

    detected --ack--> acknowledged --contain--> contained --resolve--> resolved --close--> closed
    detected --contain--> contained             (auto-containment before anyone acknowledged)
    acknowledged --resolve--> resolved           (nothing needed containing)
    detected|acknowledged --false_positive--> false_positive

Entering a state has effects: acknowledging takes a snapshot and makes the actor commander
when there is none; containing takes a snapshot first unless one was taken since the last
change; resolving and false_positive free the dedup key (a new alert opens a new incident);
closing and false_positive release the legal holds (recorded as "hold_released").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from fireline.calls.retention import release_holds
from fireline.db import Database, bus_of, utcnow
from fireline.errors import Conflict, Invalid
from fireline.incidents import bus
from fireline.incidents.metrics import TIME_TO_ACK, TIME_TO_CONTAIN, TIME_TO_RESOLVE
from fireline.incidents.models import Incident, IncidentDedup
from fireline.incidents.sla import CLOCKS, breach
from fireline.incidents.timeline import append_locked, lock_incident

STATES = ("detected", "acknowledged", "contained", "resolved", "closed", "false_positive")
ACTIONS = ("ack", "contain", "resolve", "close", "false_positive")
TRANSITIONS: dict[str, dict[str, str]] = {
    "detected": {"ack": "acknowledged", "contain": "contained", "false_positive": "false_positive"},
    "acknowledged": {"contain": "contained", "resolve": "resolved", "false_positive": "false_positive"},
    "contained": {"resolve": "resolved"},
    "resolved": {"close": "closed"},
    "closed": {},
    "false_positive": {},
}
ACTIVE = ("detected", "acknowledged", "contained")  # alerts with the incident's dedup key attach
TERMINAL = ("closed", "false_positive")
SYSTEM_ACTORS = ("alert:", "fireline", "auto:")


# Later parts may veto a move: handlers subscribed (in fireline.wiring) on "incident.guard.<action>"
# are called directly, in order, with session, incident and actor; one raises Conflict to refuse.
GUARD_TOPIC = "incident.guard.{action}"


def allowed(state: str) -> list[str]:
    return list(TRANSITIONS[state])


def is_person(actor: str) -> bool:
    return not actor.startswith(SYSTEM_ACTORS)


def needs_snapshot(inc: Incident) -> bool:
    return inc.snapshot_seq == 0 or inc.changed_seq > inc.snapshot_seq


def transition(target: Database | Session, incident_id: str, action: str, actor: str,
               reason: str | None = None) -> Incident:
    """Move an incident by `action`; 409 (Conflict, allowed=[...]) when the table forbids it."""
    if action not in ACTIONS:
        raise Invalid(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", field="action")
    return bus.within(target, lambda s: transition_locked(s, lock_incident(s, incident_id), action, actor,
                                                          reason))


def transition_locked(session: Session, inc: Incident, action: str, actor: str,
                      reason: str | None = None, *, now: datetime | None = None) -> Incident:
    from fireline.incidents.evidence import snapshot_locked

    moves = TRANSITIONS[inc.state]
    if action not in moves:
        raise Conflict(f"cannot {action.replace('_', '-')} incident {inc.id}: it is {inc.state}; "
                       f"allowed: {', '.join(moves) or 'none'}", state=inc.state, allowed=list(moves))
    for _name, guard in bus_of(session).named(GUARD_TOPIC.format(action=action)):
        guard(session=session, incident=inc, actor=actor)
    now = now or utcnow()
    for clock in CLOCKS:  # a clock that ran out before this move is recorded before it stops
        breach(session, inc, clock, now)
    target = moves[action]
    if target == "contained" and needs_snapshot(inc):
        snapshot_locked(session, inc, actor, "before containment")
    before = inc.state
    inc.state = target
    data: dict[str, object] = {"from": before, "to": target, "action": action}
    if reason:
        data["reason"] = reason
    if target == "acknowledged":
        inc.acknowledged_at = now
        if inc.commander is None and is_person(actor):
            inc.commander = actor
            data["commander"] = actor
    elif target == "contained":
        inc.contained_at = now
    elif target == "resolved":
        inc.resolved_at = now
    elif target in TERMINAL:
        inc.closed_at = now
    append_locked(session, inc, "state", actor, data, at=now)
    if target in ("resolved", "false_positive"):
        session.execute(delete(IncidentDedup).where(IncidentDedup.incident_id == inc.id))
    if target == "acknowledged":
        snapshot_locked(session, inc, actor, "acknowledged")
    if target in TERMINAL:
        released = release_holds(session, holder=inc.id, actor=actor)
        if released:
            append_locked(session, inc, "hold_released", actor, {"calls": released})
    _observe(session, inc, target, now)
    bus.emit(session, "incident.changed", incident_id=inc.id, state=target, actor=actor)
    return inc


def _observe(session: Session, inc: Incident, target: str, now: datetime) -> None:
    hist = {"acknowledged": TIME_TO_ACK, "contained": TIME_TO_CONTAIN, "resolved": TIME_TO_RESOLVE}.get(target)
    if hist is None:
        return
    seconds = max((now - inc.detected_at).total_seconds(), 0.0)
    labels = (inc.severity, inc.type)
    bus.after_commit(session, lambda: hist.labels(*labels).observe(seconds))
