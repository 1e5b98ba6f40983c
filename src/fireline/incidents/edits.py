"""What responders change on an open incident: roles, severity, type, notes and linked calls.

Each function takes a Database (own transaction, events published after the commit) or a Session
(the caller's transaction; call bus.publish_pending(db, session) after it). A closed incident
takes notes only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call
from fireline.db import Database
from fireline.errors import Conflict, Invalid
from fireline.incidents import bus
from fireline.incidents.lifecycle import TERMINAL
from fireline.incidents.models import Incident
from fireline.incidents.service import link_ids
from fireline.incidents.sla import current_config, policy
from fireline.incidents.taxonomy import check_severity, incident_type, triage
from fireline.incidents.timeline import append_locked, lock_incident, stamp


def _open_for_edit(session: Session, incident_id: str) -> Incident:
    inc = lock_incident(session, incident_id)
    if inc.state in TERMINAL:
        raise Conflict(f"incident {inc.id} is {inc.state}; it can take notes only", state=inc.state,
                       allowed=[])
    return inc


def assign(target: Database | Session, incident_id: str, role: str, who: str, actor: str, *,
           remove: bool = False, reason: str | None = None) -> Incident:
    def run(session: Session) -> Incident:
        inc = _open_for_edit(session, incident_id)
        roles = dict(inc.roles or {})
        if role == "commander":
            if remove:
                raise Invalid("the commander is handed off, not removed: assign the new commander",
                              field="remove")
            if inc.commander != who:
                append_locked(session, inc, "commander_handoff", actor,
                              {"from": inc.commander, "to": who, "reason": reason})
                inc.commander = who
        elif role == "responder":
            people = list(roles.get("responders", []))
            if remove and who in people:
                people.remove(who)
                append_locked(session, inc, "role_removed", actor, {"role": role, "who": who, "reason": reason})
            elif not remove and who not in people:
                people.append(who)
                append_locked(session, inc, "role_assigned", actor, {"role": role, "who": who, "reason": reason})
            roles["responders"] = people
        else:
            previous = roles.get(role)
            new = None if remove else who
            if previous != new:
                roles[role] = new
                append_locked(session, inc, "role_assigned" if new else "role_removed", actor,
                              {"role": role, "who": new or who, "previous": previous, "reason": reason})
        inc.roles = roles
        return inc
    return bus.within(target, run)


def set_severity(target: Database | Session, incident_id: str, severity: str, actor: str,
                 reason: str) -> Incident:
    check_severity(severity)
    if not reason.strip():
        raise Invalid("reason: a severity change needs a reason", field="reason")

    def run(session: Session) -> Incident:
        inc = _open_for_edit(session, incident_id)
        if inc.severity == severity:
            return inc
        before = inc.severity
        inc.severity = severity
        policy().set_due(inc)
        append_locked(session, inc, "severity", actor, {"from": before, "to": severity, "reason": reason,
                                                        "ack_due_at": stamp(inc.ack_due_at),  # type: ignore[arg-type]
                                                        "contain_due_at": stamp(inc.contain_due_at)})  # type: ignore[arg-type]
        return inc
    return bus.within(target, run)


def retype(target: Database | Session, incident_id: str, type_name: str, actor: str, reason: str,
           severity: str | None = None) -> Incident:
    """A responder corrects the incident's type (and, optionally, severity): on the timeline, with
    the playbook of the new type; a raised severity lets auto-containment reconsider."""
    incident_type(type_name)
    if severity is not None:
        check_severity(severity)
    if not reason.strip():
        raise Invalid("reason: a type change needs a reason", field="reason")

    def run(session: Session) -> Incident:
        inc = _open_for_edit(session, incident_id)
        if inc.type == type_name and severity in (None, inc.severity):
            return inc
        before = (inc.type, inc.severity, inc.playbook)
        decided = triage(current_config().section("triage"), type_name, None, severity or inc.severity)
        inc.type, inc.playbook = type_name, decided.playbook
        data: dict[str, Any] = {"from": before[0], "to": type_name, "reason": reason, "playbook": decided.playbook}
        if severity is not None and severity != before[1]:
            inc.severity = severity
            policy().set_due(inc)
            data.update({"severity_from": before[1], "severity_to": severity})
        append_locked(session, inc, "retyped", actor, data)
        bus.emit(session, "incident.escalated", durable=True, incident_id=inc.id, type=inc.type, severity=inc.severity,
                 apps=list(inc.scope.get("apps", [])))
        return inc
    return bus.within(target, run)


def add_note(target: Database | Session, incident_id: str, text: str, actor: str, kind: str = "note") -> Any:
    return bus.within(target, lambda s: append_locked(s, lock_incident(s, incident_id), kind, actor,
                                                      {"text": text}))


def _known_calls(session: Session, call_ids: list[str]) -> None:
    """A responder links stored calls: an id that names no call is refused, naming it (nothing linked)."""
    wanted = sorted(set(call_ids))
    known: set[str] = set()
    for i in range(0, len(wanted), 1000):
        known.update(session.scalars(select(Call.id).where(Call.id.in_(wanted[i:i + 1000]))))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        shown = ", ".join(repr(c[:80]) for c in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise Invalid(f"call_ids: no stored call with id {shown}{more}", field="call_ids", unknown=len(unknown))


def link_calls(target: Database | Session, incident_id: str, call_ids: list[str], actor: str) -> int:
    def run(session: Session) -> int:
        inc = _open_for_edit(session, incident_id)
        _known_calls(session, call_ids)
        n = link_ids(session, inc.id, call_ids)
        if n:
            entry = append_locked(session, inc, "calls_linked", actor, {"calls": n, "call_ids": call_ids[:50]})
            inc.changed_seq = entry.seq
        return n
    return bus.within(target, run)

