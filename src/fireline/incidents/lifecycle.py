"""The incident state machine as data, and the one function that moves an incident.

    detected --ack--> acknowledged --contain--> contained --resolve--> resolved --close--> closed
    detected --contain--> contained             (auto-containment before anyone acknowledged)
    contained --ack--> contained                 (a person still acknowledges what automation contained)
    acknowledged --resolve--> resolved           (nothing needed containing)
    detected|acknowledged --false_positive--> false_positive

Acknowledging happens once: it sets `acknowledged_at` (the ack clock stops), makes the actor
commander when there is none and takes a snapshot; a person who resolves an incident nobody
acknowledged acknowledges it on the way. Containing takes a snapshot first unless one was
taken since the last change; resolving and false_positive free the dedup keys (a new alert
opens a new incident); closing and false_positive release the legal holds ("hold_released").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from fireline.calls.retention import release_holds, run_queued_erasures
from fireline.db import Database, bus_of, utcnow
from fireline.errors import Conflict, Invalid
from fireline.incidents import bus
from fireline.incidents.metrics import (
    DRILL_TIME_TO_ACK,
    DRILL_TIME_TO_CONTAIN,
    DRILL_TIME_TO_RESOLVE,
    TIME_TO_ACK,
    TIME_TO_CONTAIN,
    TIME_TO_RESOLVE,
)
from fireline.incidents.models import Incident, IncidentDedup
from fireline.incidents.sla import CLOCKS, breach
from fireline.incidents.timeline import append_locked, lock_incident

STATES = ("detected", "acknowledged", "contained", "resolved", "closed", "false_positive", "merged")
ACTIONS = ("ack", "contain", "resolve", "close", "false_positive")  # the moves of POST /incidents/{id}/<move>
# `merge` has its own endpoint (it names the incident to merge into): fireline.incidents.links.merge.
TRANSITIONS: dict[str, dict[str, str]] = {
    "detected": {"ack": "acknowledged", "contain": "contained", "false_positive": "false_positive",
                 "merge": "merged"},
    "acknowledged": {"contain": "contained", "resolve": "resolved", "false_positive": "false_positive",
                     "merge": "merged"},
    "contained": {"ack": "contained", "resolve": "resolved", "merge": "merged"},
    "resolved": {"close": "closed", "merge": "merged"},
    "closed": {},
    "false_positive": {},
    "merged": {},
}
ACTIVE = ("detected", "acknowledged", "contained")  # alerts with the incident's dedup key attach
TERMINAL = ("closed", "false_positive", "merged")
SYSTEM_ACTORS = ("alert:", "fireline", "auto:")


# Later parts may veto a move: handlers subscribed (in fireline.wiring) on "incident.guard.<action>"
# are called directly, in order, with session, incident and actor; one raises Conflict to refuse.
GUARD_TOPIC = "incident.guard.{action}"


def allowed(inc: Incident) -> list[str]:
    """The moves the table allows now: `ack` only while nobody has acknowledged."""
    return [a for a in TRANSITIONS[inc.state] if a != "ack" or inc.acknowledged_at is None]


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

    moves = allowed(inc)
    if action not in moves:
        why = " and was acknowledged already" if action == "ack" and inc.acknowledged_at else ""
        raise Conflict(f"cannot {action.replace('_', '-')} incident {inc.id}: it is {inc.state}{why}; "
                       f"allowed: {', '.join(moves) or 'none'}", state=inc.state, allowed=moves)
    for _name, guard in bus_of(session).named(GUARD_TOPIC.format(action=action)):
        guard(session=session, incident=inc, actor=actor)
    now = now or utcnow()
    for clock in CLOCKS:  # a clock that ran out before this move is recorded before it stops
        breach(session, inc, clock, now)
    target = TRANSITIONS[inc.state][action]
    if action == "resolve" and inc.acknowledged_at is None and is_person(actor):
        _acknowledge(session, inc, actor, "acknowledged on resolution", now)
    if target == "contained" and needs_snapshot(inc):
        snapshot_locked(session, inc, actor, "before containment")
    before = inc.state
    inc.state = target
    data: dict[str, object] = {"from": before, "to": target, "action": action}
    if reason:
        data["reason"] = reason
    if action == "ack":
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
    if target in ("resolved", "false_positive", "merged"):
        session.execute(delete(IncidentDedup).where(IncidentDedup.incident_id == inc.id))
    if action == "ack":
        snapshot_locked(session, inc, actor, "acknowledged")
    if target in TERMINAL:
        released = release_holds(session, holder=inc.id, actor=actor)
        if released:
            # Erasures the hold blocked are carried out now, in this transaction, and recorded.
            erased = run_queued_erasures(session, actor=actor)
            append_locked(session, inc, "hold_released", actor,
                          {"calls": released, **({"queued_erasures_done": erased} if erased else {})})
    event = "acknowledged" if action == "ack" else target
    _observe(session, inc, event, now)
    bus.emit(session, "incident.changed", incident_id=inc.id, state=target, actor=actor, event=event,
             drill=inc.drill)
    return inc


def _acknowledge(session: Session, inc: Incident, actor: str, reason: str, now: datetime) -> None:
    """The implicit acknowledgement of a person who acts on an incident nobody acknowledged."""
    if "ack" in allowed(inc):
        transition_locked(session, inc, "ack", actor, reason, now=now)


def _observe(session: Session, inc: Incident, event: str, now: datetime) -> None:
    if inc.drill:  # drills have their own series: never in the real MTTA/MTTR
        hist = {"acknowledged": DRILL_TIME_TO_ACK, "contained": DRILL_TIME_TO_CONTAIN,
                "resolved": DRILL_TIME_TO_RESOLVE}.get(event)
    else:
        hist = {"acknowledged": TIME_TO_ACK, "contained": TIME_TO_CONTAIN, "resolved": TIME_TO_RESOLVE}.get(event)
    if hist is None:
        return
    seconds = max((now - inc.detected_at).total_seconds(), 0.0)
    labels = (inc.severity, inc.type)
    bus.after_commit(session, lambda: hist.labels(*labels).observe(seconds))
