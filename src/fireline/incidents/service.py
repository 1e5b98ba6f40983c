"""Incidents as plain functions: open from alerts, declare, roles, severity, notes, links.

`on_alert_fired`, `on_alert_acknowledged` and `on_alert_resolved` are the handlers of the alert
topics (subscribed by fireline.wiring).
Functions taking `target` accept a Database (own transaction, events published after the
commit) or a Session (the caller's transaction; call bus.publish_pending(db, session) after it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.db import Database, insert_for, utcnow
from fireline.errors import Conflict, Invalid
from fireline.incidents import bus
from fireline.incidents.evidence import take_snapshot
from fireline.incidents.harm import Harm, raises, worst_harm
from fireline.incidents.lifecycle import ACTIVE, TERMINAL, transition, transition_locked
from fireline.incidents.metrics import OPENED
from fireline.incidents.models import Incident, IncidentCall, IncidentDedup
from fireline.incidents.schemas import SCOPE_KEYS, DeclareIn
from fireline.incidents.sla import current_config, policy
from fireline.incidents.taxonomy import TYPES, Triage, check_severity, incident_type, triage
from fireline.incidents.timeline import IncidentNotFound, append_locked, append_timeline, lock_incident, stamp
from fireline.signals import SEVERITIES, Alert, alert_of

# The entry points other parts use, importable from here as well as from their modules.
__all__ = ["append_timeline", "assign", "declare", "get_incident", "link_calls", "list_incidents",
           "on_alert_fired", "set_severity", "take_snapshot", "transition"]
log = logging.getLogger("fireline.incidents")
FALLBACK_TYPE = "availability"
MAX_ATTEMPTS = 5


def new_id() -> str:
    return f"INC-{ULID()}"


def get_incident(session: Session, incident_id: str) -> Incident:
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    return inc


def list_incidents(session: Session, *, state: str | None = None, type: str | None = None,
                   severity: str | None = None, app: str | None = None, limit: int = 100) -> list[Incident]:
    stmt = select(Incident)
    if state:
        stmt = stmt.where(Incident.state.in_(state.split(",")))
    if type:
        stmt = stmt.where(Incident.type == type)
    if severity:
        stmt = stmt.where(Incident.severity.in_(severity.split(",")))
    if app:
        stmt = stmt.where((" " + Incident.apps + " ").contains(f" {app} "))
    return list(session.scalars(stmt.order_by(Incident.detected_at.desc(), Incident.id.desc()).limit(limit)))


def linked_call_ids(session: Session, incident_id: str) -> list[str]:
    return list(session.scalars(select(IncidentCall.call_id).where(IncidentCall.incident_id == incident_id)
                                .order_by(IncidentCall.linked_at, IncidentCall.call_id)))


def _link(session: Session, incident_id: str, call_ids: Iterable[str]) -> int:
    ids = sorted({c for c in call_ids if c})
    if not ids:
        return 0
    insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    stmt = insert(IncidentCall).on_conflict_do_nothing().returning(IncidentCall.call_id)
    return len(session.scalars(stmt, [{"incident_id": incident_id, "call_id": c, "linked_at": now}
                                      for c in ids]).all())


def _merge_scope(inc: Incident, extra: dict[str, Iterable[str]]) -> dict[str, list[str]]:
    """Union the scope lists; returns what was new."""
    scope = {k: list((inc.scope or {}).get(k, [])) for k in SCOPE_KEYS}
    added: dict[str, list[str]] = {}
    for key in SCOPE_KEYS:
        for value in extra.get(key, ()):
            if value and value not in scope[key]:
                scope[key].append(value)
                added.setdefault(key, []).append(value)
    if added:
        inc.scope = scope
        inc.apps = " ".join(scope["apps"])[:1000]
    return added


def _alert_data(alert: Alert) -> dict[str, Any]:
    return {"source": alert.source, "title": alert.title, "type": alert.type, "severity": alert.severity,
            "dedup_key": alert.dedup_key, "at": stamp(alert.at), "monitor": alert.monitor,
            "signal": alert.signal, "calls": len(alert.call_ids), "call_ids": list(alert.call_ids[:50]),
            "details": alert.details}


def _alert_scope(alert: Alert) -> dict[str, Iterable[str]]:
    scope_by = alert.details.get("scope_by")
    return {"apps": alert.apps, "tenants": alert.tenants, "models": alert.models,
            "prompt_versions": alert.prompt_versions, "tools": alert.tools, "sessions": alert.sessions,
            "keys": alert.keys, "users": alert.users, "scope_by": (scope_by,) if isinstance(scope_by, str) else ()}


def _active_for_key(session: Session, dedup_key: str) -> Incident | None:
    row = session.get(IncidentDedup, dedup_key)
    if row is None:
        return None
    inc = session.get(Incident, row.incident_id, with_for_update=True, populate_existing=True)
    if inc is None or inc.state not in ACTIVE:  # a stale key: free it for a new incident
        session.execute(delete(IncidentDedup).where(IncidentDedup.dedup_key == dedup_key))
        session.flush()
        return None
    return inc


def _attach(session: Session, inc: Incident, alert: Alert) -> None:
    entry = append_locked(session, inc, "alert", f"alert:{alert.source}", _alert_data(alert))
    linked = _link(session, inc.id, alert.call_ids)
    added = _merge_scope(inc, _alert_scope(alert))
    if linked or added:
        inc.changed_seq = entry.seq
    if linked:
        harm = worst_harm(session, alert.call_ids)
        if harm is not None and raises(harm, inc.severity):
            _escalate(session, inc, harm)


def _escalate(session: Session, inc: Incident, harm: Harm) -> None:
    """Raise an open incident to its harm's severity (and type), then let containment reconsider."""
    before = (inc.type, inc.severity)
    if harm.type != inc.type:
        append_locked(session, inc, "retyped", "harm", {"from": inc.type, "to": harm.type,
                                                        "reason": f"harm: {harm.label}", "harm": harm.as_json()})
        inc.type = harm.type
        inc.playbook = triage(current_config().section("triage"), harm.type, harm.detector).playbook
    inc.severity = harm.severity
    policy().set_due(inc)
    append_locked(session, inc, "severity", "harm", {"from": before[1], "to": harm.severity,
                                                     "reason": f"harm: {harm.label}", "harm": harm.as_json(),
                                                     "ack_due_at": stamp(inc.ack_due_at),  # type: ignore[arg-type]
                                                     "contain_due_at": stamp(inc.contain_due_at)})  # type: ignore[arg-type]
    bus.emit(session, "incident.escalated", durable=True, incident_id=inc.id, type=inc.type, severity=inc.severity,
             apps=list(inc.scope.get("apps", [])))


def _create(session: Session, *, title: str, type_name: str, severity: str, playbook: str, source: str,
            detected_at: datetime, dedup_key: str | None, scope: dict[str, Iterable[str]],
            summary: str | None = None, incident_id: str | None = None) -> Incident:
    inc = Incident(id=incident_id or new_id(), title=title[:500], summary=summary, type=type_name, severity=severity,
                   state="detected", playbook=playbook, source=source, dedup_key=dedup_key, commander=None,
                   roles={"comms_lead": None, "scribe": None, "responders": []}, scope={}, apps="",
                   detected_at=detected_at, timeline_seq=0, timeline_head="", changed_seq=0, snapshot_seq=0)
    _merge_scope(inc, scope)
    inc.scope = inc.scope or {k: [] for k in SCOPE_KEYS}
    policy().set_due(inc)
    session.add(inc)
    session.flush()
    return inc


def open_or_attach(session: Session, alert: Alert) -> tuple[Incident, bool]:
    """The incident for an alert: the active one with its dedup key, or a new one (True)."""
    existing = _active_for_key(session, alert.dedup_key)
    if existing is not None:
        _attach(session, existing, alert)
        return existing, False
    now = utcnow()
    inc_id = new_id()
    session.add(IncidentDedup(dedup_key=alert.dedup_key, incident_id=inc_id, created_at=now))
    session.flush()  # the unique key: a racing alert for the same key fails here (IntegrityError)
    type_name = alert.type if alert.type in TYPES else FALLBACK_TYPE
    decided = triage(current_config().section("triage"), type_name, alert.signal,
                     alert.severity if alert.severity in SEVERITIES else None)
    # The alert's calls are stored before it fires: their findings say what harm was done.
    harm = worst_harm(session, alert.call_ids)
    raised = raises(harm, decided.severity)
    if raised and harm is not None:
        original = (type_name, decided.severity)
        type_name = harm.type
        decided = Triage(harm.severity, triage(current_config().section("triage"), harm.type, harm.detector).playbook
                         if harm.type != original[0] else decided.playbook, f"harm:{harm.detector}.{harm.kind}")
    detected_at = min(alert.at, now) if alert.at.tzinfo else now
    inc = _create(session, title=alert.title or f"{type_name} alert", type_name=type_name,
                  severity=decided.severity, playbook=decided.playbook, source=alert.source,
                  detected_at=detected_at, dedup_key=alert.dedup_key, scope=_alert_scope(alert),
                  incident_id=inc_id)
    _set_onset(inc, alert.details.get("onset"))
    data = {**_alert_data(alert), "triage": decided.rule, "severity": decided.severity,
            "playbook": decided.playbook}
    if type_name != alert.type:
        data["original_type"] = alert.type
    if raised and harm is not None:
        data["harm"] = harm.as_json()
        data["original_severity"] = original[1]
    append_locked(session, inc, "opened", f"alert:{alert.source}", data, at=now)
    if _link(session, inc.id, alert.call_ids):
        inc.changed_seq = inc.timeline_seq
    _opened(session, inc, contain=alert.details.get("contain") is True)
    return inc, True


def _set_onset(inc: Incident, onset: Any) -> None:
    """The change point the monitor found (detect.onset), kept as the incident's onset."""
    if not isinstance(onset, dict) or not isinstance(onset.get("at"), str):
        return
    try:
        at = datetime.fromisoformat(onset["at"].replace("Z", "+00:00"))
    except ValueError:
        return
    if at.tzinfo is not None and at <= inc.detected_at:
        inc.onset_at, inc.onset = at, onset


def _opened(session: Session, inc: Incident, contain: bool = False) -> None:
    """`contain`: the rule behind the alert asks for containment whatever the auto_contain policy
    says (a session over its limits is stopped inside its loop)."""
    labels = (inc.severity, inc.type, inc.source)
    bus.after_commit(session, lambda: OPENED.labels(*labels).inc())
    bus.emit(session, "incident.opened", durable=True, incident_id=inc.id, type=inc.type, severity=inc.severity,
             apps=list(inc.scope.get("apps", [])), contain=contain)


def on_alert_fired(db: Database, alert: Alert | dict[str, Any], **_: Any) -> str:
    """The "alert.fired" handler (also given the stored JSON of a redelivered outbox entry)."""
    alert = alert_of(alert)
    for attempt in range(MAX_ATTEMPTS):
        try:
            inc, _opened_new = bus.within(db, lambda s: open_or_attach(s, alert))
            return inc.id
        except IntegrityError:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            log.debug("alert %s raced another; retrying", alert.dedup_key)
    raise AssertionError("unreachable")


def on_alert_acknowledged(db: Database, alert: Alert, **_: Any) -> None:
    def run(session: Session) -> None:
        inc = _active_for_key(session, alert.dedup_key)
        if inc is None:
            return
        if inc.state == "detected":
            transition_locked(session, inc, "ack", f"alert:{alert.source}", "acknowledged at the source")
        else:
            append_locked(session, inc, "alert_acknowledged", f"alert:{alert.source}", _alert_data(alert))
    bus.within(db, run)


def on_alert_resolved(db: Database, alert: Alert, **_: Any) -> None:
    def run(session: Session) -> None:
        inc = _active_for_key(session, alert.dedup_key)
        if inc is not None:  # recorded, never auto-resolved: a person decides the incident is over
            append_locked(session, inc, "alert_resolved", f"alert:{alert.source}", _alert_data(alert))
    bus.within(db, run)


def declare(target: Database | Session, body: DeclareIn, actor: str) -> Incident:
    """A hand-declared incident starts acknowledged, with the declarer as commander."""
    incident_type(body.type)

    def run(session: Session) -> Incident:
        decided = triage(current_config().section("triage"), body.type, body.signal, body.severity)
        now = utcnow()
        inc = _create(session, title=body.title, type_name=body.type, severity=decided.severity,
                      playbook=decided.playbook, source="declared", detected_at=now, dedup_key=None,
                      scope=body.model_dump(include=set(SCOPE_KEYS)), summary=body.summary)
        append_locked(session, inc, "declared", actor, {"title": body.title, "type": body.type,
                                                         "severity": decided.severity, "triage": decided.rule,
                                                         "playbook": decided.playbook, "scope": inc.scope},
                      at=now)
        if _link(session, inc.id, body.call_ids):
            inc.changed_seq = inc.timeline_seq
        _opened(session, inc)
        return transition_locked(session, inc, "ack", actor, "declared by hand", now=now)
    return bus.within(target, run)


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


def link_calls(target: Database | Session, incident_id: str, call_ids: list[str], actor: str) -> int:
    def run(session: Session) -> int:
        inc = _open_for_edit(session, incident_id)
        n = _link(session, inc.id, call_ids)
        if n:
            entry = append_locked(session, inc, "calls_linked", actor, {"calls": n, "call_ids": call_ids[:50]})
            inc.changed_seq = entry.seq
        return n
    return bus.within(target, run)

