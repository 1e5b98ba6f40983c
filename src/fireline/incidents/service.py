"""Incidents as plain functions: open from alerts, declare, list and read (what responders change
on an open incident afterwards, roles, severity, type, notes and linked calls, is in
fireline.incidents.edits).

`on_alert_fired`, `on_alert_acknowledged` and `on_alert_resolved` are the handlers of the alert
topics (subscribed by fireline.wiring).
Functions taking `target` accept a Database (own transaction, events published after the
commit) or a Session (the caller's transaction; call bus.publish_pending(db, session) after it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.calls.models import Call, CallFinding
from fireline.calls.privacy import scrub
from fireline.db import Database, UTCDateTime, insert_for, utcnow
from fireline.errors import Invalid
from fireline.incidents import blast, bus, correlate, links
from fireline.incidents.evidence import take_snapshot
from fireline.incidents.harm import Harm, raises, worst_harm
from fireline.incidents.lifecycle import STATES, allowed, transition, transition_locked
from fireline.incidents.metrics import DRILLS_OPENED, OPENED
from fireline.incidents.models import Incident, IncidentCall, IncidentDedup
from fireline.incidents.schemas import SCOPE_KEYS, DeclareIn
from fireline.incidents.scope import merge_scope
from fireline.incidents.sla import current_config, policy
from fireline.incidents.taxonomy import TYPES, Triage, check_severity, incident_type, triage
from fireline.incidents.timeline import IncidentNotFound, append_locked, append_timeline, stamp
from fireline.signals import SEVERITIES, Alert, alert_of

# The entry points other parts use, importable from here as well as from their modules.
__all__ = ["append_timeline", "declare", "get_incident", "list_incidents", "on_alert_fired", "take_snapshot",
           "transition"]
log = logging.getLogger("fireline.incidents")
FALLBACK_TYPE = "availability"
MAX_ATTEMPTS = 5
MAX_REPEAT_CALLS = 100


def new_id() -> str:
    return f"INC-{ULID()}"


def get_incident(session: Session, incident_id: str) -> Incident:
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    return inc


def list_incidents(session: Session, *, state: str | None = None, type: str | None = None,
                   severity: str | None = None, app: str | None = None, drill: bool | None = None,
                   limit: int = 100) -> list[Incident]:
    """Filters are checked, so a misspelt state, type or severity is a 422 rather than no match."""
    stmt = select(Incident)
    if state:
        states = state.split(",")
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise Invalid(f"state: unknown state {unknown[0]!r}; one of {', '.join(STATES)}", field="state",
                          allowed=list(STATES))
        stmt = stmt.where(Incident.state.in_(states))
    if type:
        stmt = stmt.where(Incident.type == incident_type(type).name)
    if severity:
        stmt = stmt.where(Incident.severity.in_([check_severity(s) for s in severity.split(",")]))
    if app:
        stmt = stmt.where((" " + Incident.apps + " ").contains(f" {app} "))
    if drill is not None:  # the console's Drills page asks for drills only
        stmt = stmt.where(Incident.drill.is_(drill))
    return list(session.scalars(stmt.order_by(Incident.detected_at.desc(), Incident.id.desc()).limit(limit)))


def linked_call_ids(session: Session, incident_id: str) -> list[str]:
    return list(session.scalars(select(IncidentCall.call_id).where(IncidentCall.incident_id == incident_id)
                                .order_by(IncidentCall.linked_at, IncidentCall.call_id)))


def link_ids(session: Session, incident_id: str, call_ids: Iterable[str]) -> int:
    return len(link_pairs(session, [(incident_id, c) for c in {c for c in call_ids if c}]))


# The links in one statement and one parameter however many there are: a row of parameters per
# link (SQLAlchemy's insertmanyvalues) cost 15-25 us of CPU each in bind processing, this 6-11 us
# (a monitor firing on most calls links about one call per call ingested).
def _link_statement(rows: str) -> TextClause:
    sql = f"INSERT INTO incident_calls (incident_id, call_id, linked_at) {rows} ON CONFLICT DO NOTHING"
    return text(sql + " RETURNING incident_id, call_id").bindparams(bindparam("now", type_=UTCDateTime()))


_LINK = {
    # WHERE true: SQLite's rule for an upsert after INSERT ... SELECT (ON would be read as a join's).
    "sqlite": _link_statement("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), :now "
                              "FROM json_each(:pairs) WHERE true"),
    "postgresql": _link_statement("SELECT i, c, :now FROM unnest(CAST(:incidents AS text[]), CAST(:calls AS text[])) "
                                  "AS t(i, c)"),
}


def link_pairs(session: Session, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Link calls to incidents ((incident id, call id) pairs, linked now): the pairs that were not
    linked before."""
    rows = sorted(set(pairs))
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"now": utcnow()}
    if dialect == "sqlite":
        params["pairs"] = orjson.dumps(rows).decode()
    else:
        params["incidents"], params["calls"] = [i for i, _ in rows], [c for _, c in rows]
    return {(i, c) for i, c in session.connection().execute(_LINK[dialect], params)}


def _alert_data(alert: Alert) -> dict[str, Any]:
    return {"source": alert.source, "title": alert.title, "type": alert.type, "severity": alert.severity,
            "dedup_key": alert.dedup_key, "at": stamp(alert.at), "monitor": alert.monitor,
            "signal": alert.signal, "calls": len(alert.call_ids), "call_ids": list(alert.call_ids[:50]),
            "details": alert.details}


def _add_keys(session: Session, inc: Incident, keys: list[str]) -> None:
    """Let the incident answer for these dedup keys too (keys held by another incident stay there)."""
    insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    for key in keys:
        session.execute(insert(IncidentDedup).values(dedup_key=key, incident_id=inc.id, created_at=now)
                        .on_conflict_do_nothing())


def _attach(session: Session, inc: Incident, alert: Alert, own: str, corr: list[str], how: str,
            severity: str, harm: Harm | None) -> None:
    """An alert about an open incident's event: the same monitor again (an "alert" entry; new calls
    only as "calls_linked"), or a related alert ("related_alert": another detector on the same
    calls, or the same family on its app), whose higher severity wins. `harm`: the worst harm among
    the alert's calls (worst_harm, read once per alert: O(alert), whatever the incident holds)."""
    actor = f"alert:{alert.source}"
    linked = link_ids(session, inc.id, alert.call_ids)
    update = how == "key" and alert.details.get("update")
    if update and not linked:
        return
    # Scope and change mark first, so the entry's flush writes the incident row once.
    added = merge_scope(session, inc, {**correlate.alert_scope(alert), "dedup_keys": [own],
                                        **({"limits": correlate.limits(alert)} if how != "key" else {})})
    if linked or added:
        inc.changed_seq = inc.timeline_seq + 1  # the entry appended next
    if update:
        append_locked(session, inc, "calls_linked", actor, {
            "calls": linked, "call_ids": list(alert.call_ids[:50]), "dedup_key": alert.dedup_key,
            "monitor": alert.monitor})
    elif how == "key":
        append_locked(session, inc, "alert", actor, _alert_data(alert))
    else:
        append_locked(session, inc, "related_alert", actor, {
            **_alert_data(alert), "correlated_by": how, "triaged_severity": severity})
        _add_keys(session, inc, [own, *corr])
    if linked and harm is not None and raises(harm, inc.severity):
        escalate_harm(session, inc, harm)
    if how != "key":
        links.escalate(session, inc, severity, actor, f"related alert {alert.title!r} is {severity}")


def escalate_harm(session: Session, inc: Incident, harm: Harm) -> None:
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
             apps=list(inc.scope.get("apps", [])), drill=inc.drill)


def _create(session: Session, *, title: str, type_name: str, severity: str, playbook: str, source: str,
            detected_at: datetime, dedup_key: str | None, scope: dict[str, Any], drill: bool = False,
            summary: str | None = None, incident_id: str | None = None) -> Incident:
    # Titles and summaries are free text (an alert's, a person's): through the privacy pass first.
    inc = Incident(id=incident_id or new_id(), title=scrub(title)[:500], summary=scrub(summary) if summary else summary,
                   type=type_name, severity=severity,
                   state="detected", playbook=playbook, source=source, dedup_key=dedup_key, commander=None,
                   roles={"comms_lead": None, "scribe": None, "responders": []}, scope={}, apps="",
                   detected_at=detected_at, timeline_seq=0, timeline_head="", changed_seq=0, snapshot_seq=0,
                   drill=drill)
    merge_scope(session, inc, scope)
    policy().set_due(inc)
    session.add(inc)
    session.flush()
    return inc


def _fresh(session: Session, call_ids: Iterable[str]) -> list[str]:
    """The calls no incident holds yet: a repeat must not fold in an earlier incident's calls."""
    ids = list(dict.fromkeys(c for c in call_ids if c))
    if not ids:
        return []
    held = set(session.scalars(select(IncidentCall.call_id).where(IncidentCall.call_id.in_(ids))))
    return [c for c in ids if c not in held]


def _rate_repeat(session: Session, alert: Alert, own: str, type_name: str, drill: bool) -> list[str]:
    """New calls of a rate monitor that still fires after its incident ended: a repeat once at least
    the monitor's `min_count` matching calls arrived since that end (no incident holds them); a
    stray match while the window still holds the old spike is not one. The calls, else []."""
    since_state = (*links.OVER, "false_positive")
    old = links.previous(session, own, correlate.family(type_name), list(alert.apps), drill, utcnow(), since_state)
    if old is None:
        return _fresh(session, alert.call_ids)
    ended = old.resolved_at or old.closed_at
    assert ended is not None
    sig = blast.signature(session, old)
    if not sig["findings"] and not sig["status"]:
        return []
    held = select(IncidentCall.call_id)
    column = CallFinding.call_id if sig["findings"] else Call.id
    found = list(dict.fromkeys(session.scalars(blast.matching(sig, ended, None).where(column.not_in(held))
                                               .limit(MAX_REPEAT_CALLS))))
    return found if len(found) >= max(int(alert.details.get("min_count") or 1), 1) else []


def open_or_attach(session: Session, alert: Alert, pre: correlate.Prefetched | None = None
                   ) -> tuple[Incident | None, bool]:
    """The incident for an alert: the open one it is about (see `correlate`), or a new one (True),
    linked to the incident it repeats. None when the alert brings nothing new: a monitor firing
    again about calls of an incident that is over, or new calls of a rate monitor that is still
    above its threshold from before (only per-call monitors, condition `any`, reopen at once).
    `pre`: the findings and rows of the alert's calls, read once for several alerts."""
    type_name = alert.type if alert.type in TYPES else FALLBACK_TYPE
    decided = triage(current_config().section("triage"), type_name, alert.signal,
                     alert.severity if alert.severity in SEVERITIES else None)
    # The alert's calls are stored before it fires: their findings say what harm was done.
    harm = worst_harm(session, alert.call_ids, pre.harms if pre else None)
    raised = raises(harm, decided.severity)
    original = (type_name, decided.severity)
    if raised and harm is not None:
        type_name = harm.type
        decided = Triage(harm.severity, triage(current_config().section("triage"), harm.type, harm.detector).playbook
                         if harm.type != original[0] else decided.playbook, f"harm:{harm.detector}.{harm.kind}")
    drill = correlate.is_drill(session, alert, pre.stored if pre else None)
    own, corr = correlate.keys(alert, drill, type_name)
    found, claim = correlate.find(session, alert, drill, own, corr)
    if found is not None:
        _attach(session, found[0], alert, own, corr, found[1], decided.severity, harm)
        return found[0], False
    call_ids = _fresh(session, alert.call_ids)
    if alert.details.get("update") and alert.details.get("condition") != "any":
        call_ids = _rate_repeat(session, alert, own, type_name, drill)
        if not call_ids:
            return None, False
    elif alert.call_ids and not call_ids:
        return None, False
    now = utcnow()
    inc_id = new_id()
    for key in claim:
        session.add(IncidentDedup(dedup_key=key, incident_id=inc_id, created_at=now))
    session.flush()  # the unique keys: a racing alert about the same event fails here (IntegrityError)
    previous = links.previous(session, own, correlate.family(type_name), list(alert.apps), drill, now)
    # Detection is when Fireline opened the incident: the SLA clocks run from it. The source's own
    # time (an old PagerDuty `timestamp`, a monitor's clock) stays on the timeline entry as "at".
    inc = _create(session, title=alert.title or f"{type_name} alert", type_name=type_name,
                  severity=decided.severity, playbook=decided.playbook, source=alert.source,
                  detected_at=now, dedup_key=alert.dedup_key, drill=drill,
                  scope={**correlate.alert_scope(alert), "limits": correlate.limits(alert), "dedup_keys": [own]},
                  incident_id=inc_id)
    _set_onset(inc, alert.details.get("onset"))
    data = {**_alert_data(alert), "triage": decided.rule, "severity": decided.severity,
            "playbook": decided.playbook, "drill": drill}
    if type_name != alert.type:
        data["original_type"] = alert.type
    if raised and harm is not None:
        data["harm"] = harm.as_json()
        data["original_severity"] = original[1]
    append_locked(session, inc, "opened", f"alert:{alert.source}", data, at=now)
    if previous is not None:
        links.mark_repeat(session, inc, previous, f"alert:{alert.source}")
    if link_ids(session, inc.id, call_ids):
        inc.changed_seq = inc.timeline_seq
    if inc.onset_at is None and alert.details.get("update"):  # a repeat starts with its first new call
        first = session.scalar(select(func.min(Call.started_at)).where(Call.id.in_(call_ids)))
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            inc.onset_at, inc.onset = first, {"method": "first_call_of_repeat", "at": stamp(first)}
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
    counter = DRILLS_OPENED if inc.drill else OPENED
    bus.after_commit(session, lambda: counter.labels(*labels).inc())
    bus.emit(session, "incident.opened", durable=True, incident_id=inc.id, type=inc.type, severity=inc.severity,
             apps=list(inc.scope.get("apps", [])), contain=contain, drill=inc.drill)


def on_alert_fired(db: Database, alert: Alert | dict[str, Any], **_: Any) -> str | None:
    """The "alert.fired" handler (also given the stored JSON of a redelivered outbox entry): the id
    of the incident the alert opened or joined (None: it brought nothing new)."""
    alert = alert_of(alert)
    for attempt in range(MAX_ATTEMPTS):
        try:
            inc, _opened_new = bus.within(db, lambda s: open_or_attach(s, alert))
            return inc.id if inc is not None else None
        except IntegrityError:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            log.debug("alert %s raced another; retrying", alert.dedup_key)
    raise AssertionError("unreachable")


def on_alert_acknowledged(db: Database, alert: Alert, **_: Any) -> None:
    def run(session: Session) -> None:
        inc = correlate.active_for_key(session, alert.dedup_key)
        if inc is None:
            return
        if inc.acknowledged_at is None and "ack" in allowed(inc):
            transition_locked(session, inc, "ack", f"alert:{alert.source}", "acknowledged at the source")
        else:
            append_locked(session, inc, "alert_acknowledged", f"alert:{alert.source}", _alert_data(alert))
    bus.within(db, run)


def on_alert_resolved(db: Database, alert: Alert, **_: Any) -> None:
    def run(session: Session) -> None:
        inc = correlate.active_for_key(session, alert.dedup_key)
        if inc is not None:  # recorded, never auto-resolved: a person decides the incident is over
            append_locked(session, inc, "alert_resolved", f"alert:{alert.source}", _alert_data(alert))
    bus.within(db, run)


def declare(target: Database | Session, body: DeclareIn, actor: str) -> Incident:
    """A hand-declared incident starts acknowledged, with the declarer as commander."""
    incident_type(body.type)

    def run(session: Session) -> Incident:
        decided = triage(current_config().section("triage"), body.type, body.signal, body.severity)
        now = utcnow()
        scope = body.model_dump(include=set(SCOPE_KEYS))
        inc = _create(session, title=body.title, type_name=body.type, severity=decided.severity,
                      playbook=decided.playbook, source="declared", detected_at=now, dedup_key=None,
                      scope={**scope, "limits": {k: v for k, v in scope.items() if v and k in correlate.LIMIT_KEYS}},
                      summary=body.summary,
                      drill=body.drill)
        append_locked(session, inc, "declared", actor, {"title": body.title, "type": body.type,
                                                         "severity": decided.severity, "triage": decided.rule,
                                                         "playbook": decided.playbook, "drill": body.drill,
                                                         "scope": scope},
                      at=now)
        if link_ids(session, inc.id, body.call_ids):
            inc.changed_seq = inc.timeline_seq
        _opened(session, inc)
        return transition_locked(session, inc, "ack", actor, "declared by hand", now=now)
    return bus.within(target, run)
