"""Disclosure clocks. GDPR Art. 33: a personal-data breach is notified to the supervisory
authority within 72 hours of becoming aware (Fireline takes the detection time); Art. 34:
the data subjects are told without undue delay when the breach is likely to result in a
high risk to them (a person marks the incident high-risk).

An Art. 33 obligation opens when a data_leakage incident involves personal data (PII
findings on its linked calls or PII in its blast radius, or a responder says so). Nothing opens
on a guess: a leak without calls (an external alert) has an unknown blast radius, and the
responder is asked (`questions`) whether personal data is involved. A drill's obligations
never open: they are shown as what would open (`would_open`). Each obligation lists the
contents the article requires, filled from the record where known and flagged missing
otherwise. Reminders go out before the deadline (comms.obligation_reminders) and when it
passes, through the notification routes and on the timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.comms.config import CommsConfig
from fireline.comms.delivery import ACTOR, Event, Runtime
from fireline.comms.facts import Facts, describe_control, gather
from fireline.comms.messages import OBLIGATION_NAMES
from fireline.comms.models import IncidentComms, Obligation
from fireline.errors import Conflict, NotFound
from fireline.incidents.lifecycle import TERMINAL
from fireline.incidents.models import Incident
from fireline.incidents.timeline import append_timeline, lock_incident, stamp

ART33_WINDOW = timedelta(hours=72)
LEGAL = {"gdpr_art33": ("GDPR Art. 33(1), contents per Art. 33(3)", "supervisory authority"),
         "gdpr_art34": ("GDPR Art. 34(1), contents per Art. 34(2)", "the affected data subjects")}


def _label(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}h" if hours >= 1 else f"{delta.total_seconds() / 60:g}m"


def _crossed(ob: Obligation, thresholds: list[timedelta], now: datetime) -> list[str]:
    """Reminder labels due now and not sent yet ("24h", "6h", "overdue")."""
    left = ob.due_at - now
    sent = set(ob.reminders_sent or [])
    crossed = [_label(t) for t in thresholds if left <= t and _label(t) not in sent]
    if left <= timedelta(0) and "overdue" not in sent:
        crossed.append("overdue")
    return crossed


def _existing(session: Session, incident_id: str) -> set[str]:
    return set(session.scalars(select(Obligation.kind).where(Obligation.incident_id == incident_id)))


def wanted(session: Session, cfg: CommsConfig, incident_id: str, now: datetime, *, drills: bool = False
           ) -> list[tuple[str, datetime, dict[str, Any]]]:
    """The obligations the record calls for and that do not exist yet (reads only). A drill's are
    left out unless `drills` (what would open, had it been real)."""
    inc = session.get(Incident, incident_id)
    if inc is None or inc.state in ("false_positive", "merged") or (inc.drill and not drills):
        return []
    have = _existing(session, incident_id)
    meta = session.get(IncidentComms, incident_id)
    need33 = inc.type == "data_leakage" and "gdpr_art33" not in have
    need34 = bool(meta and meta.high_risk) and "gdpr_art34" not in have
    if not need33 and not need34:
        return []
    f = gather(session, incident_id)  # the blast radius: only while something may still open
    out: list[tuple[str, datetime, dict[str, Any]]] = []
    said = bool(meta and meta.personal_data)
    if need33 and (f.personal_data or said):
        basis: dict[str, Any] = {"pii": f.pii, "users": f.blast.get("users"), "calls": f.blast.get("calls"),
                                 "aware_at": stamp(inc.detected_at)}
        if said and not f.personal_data and meta is not None:
            basis["said_by"], basis["reason"] = meta.personal_data_by, meta.personal_data_reason
        out.append(("gdpr_art33", inc.detected_at + ART33_WINDOW, basis))
    if need34 and meta is not None:
        marked = meta.high_risk_at or now
        out.append(("gdpr_art34", marked + cfg.comms.art34_target,
                    {"marked_by": meta.high_risk_by, "marked_at": stamp(marked), "reason": meta.high_risk_reason,
                     "personal_data": f.personal_data}))
    return out


def evaluate(session: Session, cfg: CommsConfig, incident_id: str, now: datetime) -> list[Event]:
    """Open the obligations the record calls for (idempotent, in the caller's write transaction)."""
    todo = wanted(session, cfg, incident_id, now)
    if not todo:
        return []
    inc = lock_incident(session, incident_id)  # serialises two checkers (PostgreSQL; SQLite has one writer)
    have = _existing(session, incident_id)
    out: list[Event] = []
    for kind, due, basis in todo:
        if kind in have:
            continue
        ob = Obligation(id=f"OBL-{ULID()}", incident_id=inc.id, kind=kind, created_at=now, due_at=due,
                        basis=basis, status="open", reminders_sent=[])
        session.add(ob)
        session.flush()
        data = {"obligation_id": ob.id, "kind": kind, "title": OBLIGATION_NAMES[kind], "due_at": stamp(due),
                "basis": basis}
        append_timeline(session, inc.id, "obligation_opened", ACTOR, data, at=now)
        out.append(Event("obligation_opened", inc.id, data))
    return out


def evaluate_in(rt: Runtime, incident_id: str, now: datetime) -> list[Event]:
    """Read first; take the write transaction only when an obligation is due to open."""
    with rt.db.session() as s:
        if not wanted(s, rt.cfg, incident_id, now):
            return []
    with rt.db.writing() as s:
        return evaluate(s, rt.cfg, incident_id, now)


def on_event(rt: Runtime, event: Event, now: datetime) -> list[Event]:
    if event.name.startswith(("obligation_", "update")):
        return []
    return evaluate_in(rt, event.incident_id, now)


def check(rt: Runtime, now: datetime) -> None:
    """Periodic: open obligations for calls linked since, and remind before (and at) deadlines."""
    with rt.db.session() as s:
        leaks = list(s.scalars(select(Incident.id).where(
            Incident.type == "data_leakage", Incident.state.not_in(TERMINAL),
            Incident.id.not_in(select(Obligation.incident_id).where(Obligation.kind == "gdpr_art33")))))
        risky = list(s.scalars(select(IncidentComms.incident_id).where(
            IncidentComms.high_risk.is_(True),
            IncidentComms.incident_id.not_in(select(Obligation.incident_id).where(Obligation.kind == "gdpr_art34")))))
        open_obs = [ob.id for ob in s.scalars(select(Obligation).where(Obligation.status == "open"))
                    if _crossed(ob, rt.cfg.comms.obligation_reminders, now)]
    for incident_id in dict.fromkeys([*leaks, *risky]):
        for ev in evaluate_in(rt, incident_id, now):
            rt.submit(ev)
    for oid in open_obs:
        with rt.db.writing() as s:
            ob = s.get(Obligation, oid, with_for_update=True)
            crossed = _crossed(ob, rt.cfg.comms.obligation_reminders, now) if ob and ob.status == "open" else []
            if ob is None or not crossed:
                continue
            left = ob.due_at - now
            sent = list(ob.reminders_sent or [])
            label = crossed[-1]  # the tightest one crossed; the looser ones are moot
            ob.reminders_sent = sent + crossed
            data = {"obligation_id": ob.id, "kind": ob.kind, "title": OBLIGATION_NAMES[ob.kind],
                    "due_at": stamp(ob.due_at), "reminder": label, "seconds_left": int(left.total_seconds())}
            append_timeline(s, ob.incident_id, "obligation_reminder", ACTOR, data, at=now)
            rt.submit(Event("obligation_reminder", ob.incident_id, data))


def contents(f: Facts, cfg: CommsConfig, kind: str) -> list[dict[str, Any]]:
    """The required contents, filled from the record; `missing` says what a person must add."""
    inc = f.incident
    pii = f.pii
    consequences = (f.comms.likely_consequences if f.comms else None) or cfg.comms.likely_consequences.get(inc.type)
    measures = [describe_control(c) for c in f.controls]
    if inc.contained_at:
        measures.append(f"incident contained {stamp(inc.contained_at)[:16].replace('T', ' ')} UTC")
    users = f.blast.get("users")
    calls = f.blast.get("calls")
    items: list[tuple[str, str, Any]] = [
        ("nature", "Nature of the personal data breach",
         f"{inc.type.replace('_', ' ')}: {inc.title}" + (f". {inc.summary}" if inc.summary else "")),
        ("data_categories", "Categories of personal data concerned", sorted(pii) or None),
        ("data_subjects", "Approximate number of data subjects concerned", users if users else None),
        ("records", "Approximate number of personal data records concerned",
         {"calls": calls, "pii_items": sum(pii.values())} if calls or pii else None),
        ("likely_consequences", "Likely consequences of the breach", consequences),
        ("measures", "Measures taken or proposed to address the breach and mitigate its effects",
         measures or None),
        ("contact_point", "Name and contact details of the data protection officer or other contact point",
         cfg.comms.dpo_contact),
    ]
    if kind == "gdpr_art34":  # Art. 34(2): the same, in clear and plain language, to the individuals
        items = [i for i in items if i[0] not in ("records",)]
    return [{"field": k, "label": label, "value": v, "missing": v in (None, "", [])} for k, label, v in items]


def obligation_json(ob: Obligation, f: Facts, cfg: CommsConfig, now: datetime) -> dict[str, Any]:
    basis, recipient = LEGAL[ob.kind]
    status = ob.status if ob.status == "met" or ob.due_at > now else "overdue"
    items = contents(f, cfg, ob.kind)
    return {"id": ob.id, "incident_id": ob.incident_id, "kind": ob.kind, "title": OBLIGATION_NAMES[ob.kind],
            "legal_basis": basis, "recipient": recipient, "deadline": stamp(ob.due_at), "status": status,
            "seconds_left": int((ob.due_at - now).total_seconds()), "created_at": stamp(ob.created_at),
            "met_at": stamp(ob.met_at) if ob.met_at else None, "met_by": ob.met_by, "met_note": ob.met_note,
            "reminders_sent": list(ob.reminders_sent or []), "basis": ob.basis,
            "required_contents": items, "missing": [i["field"] for i in items if i["missing"]]}


def would_open(session: Session, cfg: CommsConfig, incident_id: str, now: datetime) -> list[dict[str, Any]]:
    """A drill's obligations: what would open had it been real, never opened (no clock, no reminder)."""
    inc = session.get(Incident, incident_id)
    if inc is None or not inc.drill:
        return []
    return [{"kind": kind, "title": OBLIGATION_NAMES[kind], "legal_basis": LEGAL[kind][0],
             "recipient": LEGAL[kind][1], "deadline": stamp(due), "status": "would_open", "basis": basis}
            for kind, due, basis in wanted(session, cfg, incident_id, now, drills=True)]


def questions(session: Session, incident_id: str) -> list[dict[str, Any]]:
    """What a responder must answer because the record cannot: is personal data involved in a leak
    whose calls are unknown? Until answered, no clock opens on a guess."""
    inc = session.get(Incident, incident_id)
    if inc is None or inc.drill or inc.type != "data_leakage" or inc.state in TERMINAL:
        return []
    meta = session.get(IncidentComms, incident_id)
    if (meta is not None and meta.personal_data is not None) or "gdpr_art33" in _existing(session, incident_id):
        return []
    f = gather(session, incident_id)
    if f.personal_data or f.blast.get("status") != "unknown":
        return []
    return [{"kind": "gdpr_art33", "status": "needs_decision",
             "question": "Does this leak involve personal data? No affected calls are linked, so Fireline "
                         "cannot tell and opens no 72-hour clock on a guess.",
             "answer": f"link the affected calls (POST /api/v1/incidents/{incident_id}/calls), or answer "
                       f"POST /api/v1/incidents/{incident_id}/personal-data {{\"involved\": true|false, "
                       f"\"reason\"}} (CLI: fireline obligations {incident_id} --personal-data yes|no)"}]


def mark_personal_data(session: Session, incident_id: str, actor: str, involved: bool, reason: str,
                       now: datetime) -> IncidentComms:
    """A responder's answer: personal data is (not) involved. True opens the Art. 33 clock from
    detection (the 72 hours run from awareness, whatever the time of the answer)."""
    lock_incident(session, incident_id)
    row = session.get(IncidentComms, incident_id, with_for_update=True)
    if row is None:
        row = IncidentComms(incident_id=incident_id, high_risk=False)
        session.add(row)
    row.personal_data, row.personal_data_at, row.personal_data_by = involved, now, actor
    row.personal_data_reason = reason
    append_timeline(session, incident_id, "personal_data", actor, {"involved": involved, "reason": reason}, at=now)
    session.flush()
    return row


def list_for(session: Session, cfg: CommsConfig, incident_id: str, now: datetime) -> list[dict[str, Any]]:
    f = gather(session, incident_id)
    rows = session.scalars(select(Obligation).where(Obligation.incident_id == incident_id)
                           .order_by(Obligation.due_at, Obligation.kind))
    return [obligation_json(ob, f, cfg, now) for ob in rows]


def mark_met(session: Session, incident_id: str, oid: str, actor: str, note: str | None, now: datetime) -> None:
    lock_incident(session, incident_id)
    ob = session.get(Obligation, oid, with_for_update=True)
    if ob is None or ob.incident_id != incident_id:
        raise NotFound(f"no obligation {oid} on incident {incident_id}")
    if ob.status == "met":
        raise Conflict(f"obligation {oid} was already met at {stamp(ob.met_at or now)} by {ob.met_by}",
                       met_at=stamp(ob.met_at or now), met_by=ob.met_by)
    ob.status, ob.met_at, ob.met_by, ob.met_note = "met", now, actor, note
    append_timeline(session, incident_id, "obligation_met", actor,
                    {"obligation_id": oid, "kind": ob.kind, "due_at": stamp(ob.due_at), "late": now > ob.due_at,
                     "note": note}, at=now)


def mark_high_risk(session: Session, incident_id: str, actor: str, high_risk: bool, reason: str | None,
                   likely_consequences: str | None, now: datetime) -> IncidentComms:
    lock_incident(session, incident_id)
    row = session.get(IncidentComms, incident_id, with_for_update=True)
    if row is None:
        row = IncidentComms(incident_id=incident_id, high_risk=False)
        session.add(row)
    changed = row.high_risk != high_risk
    row.high_risk = high_risk
    if high_risk and changed:
        row.high_risk_at, row.high_risk_by, row.high_risk_reason = now, actor, reason
    if likely_consequences is not None:
        row.likely_consequences = likely_consequences
    append_timeline(session, incident_id, "high_risk" if high_risk else "high_risk_cleared", actor,
                    {"high_risk": high_risk, "reason": reason, "likely_consequences": likely_consequences}, at=now)
    session.flush()
    return row
