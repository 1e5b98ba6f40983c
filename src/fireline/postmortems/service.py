"""The editable parts of a post-mortem: the root-cause record, action items, completion, and
the due date (five business days after resolution by default)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.errors import Conflict, Invalid, NotFound
from fireline.incidents.models import Incident
from fireline.incidents.service import get_incident
from fireline.incidents.timeline import append_timeline, lock_incident, stamp
from fireline.postmortems.models import ActionItem, Postmortem, RootCause

CATEGORIES = ("model", "prompt", "data", "configuration", "infrastructure")
ALIASES = {"config": "configuration", "infra": "infrastructure"}  # the first names, still accepted
MAX_WHYS = 10


def add_business_days(start: date, days: int) -> date:
    d = start
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d


def due_date(inc: Incident, business_days: int) -> date | None:
    ended = inc.resolved_at or (inc.closed_at if inc.state == "closed" else None)
    return add_business_days(ended.date(), business_days) if ended else None


def status(session: Session, inc: Incident, business_days: int, today: date) -> dict[str, Any]:
    done = session.get(Postmortem, inc.id)
    due = due_date(inc, business_days)
    return {"due": due.isoformat() if due else None,
            "completed_at": stamp(done.completed_at) if done else None,
            "completed_by": done.completed_by if done else None,
            "overdue": bool(due and not done and today > due)}


def category_of(value: str | None) -> str | None:
    return ALIASES.get(value, value) if value else None


def root_cause_json(rc: RootCause | None) -> dict[str, Any]:
    if rc is None:
        return {"category": None, "whys": [], "factors": [], "remediation": [], "regression_test": None,
                "prevention": None, "summary": None, "finding": None, "updated_at": None, "updated_by": None}
    return {"category": category_of(rc.category), "whys": list(rc.whys or []), "factors": list(rc.factors or []),
            "remediation": list(rc.remediation or []), "regression_test": rc.regression_test,
            "prevention": rc.prevention, "summary": rc.summary, "finding": rc.finding,
            "updated_at": stamp(rc.updated_at), "updated_by": rc.updated_by}


def _lines(values: list[str] | None) -> list[str]:
    return [v.strip() for v in values or [] if v and v.strip()]


def set_root_cause(session: Session, incident_id: str, actor: str, now: datetime, *, category: str | None,
                   factors: list[str], summary: str | None, finding: str | None, whys: list[str] | None = None,
                   remediation: list[str] | None = None, regression_test: str | None = None,
                   prevention: str | None = None) -> RootCause:
    """Replace the record. The 5 whys are an ordered chain: why 1 asks about the impact, each next one
    about the answer before it; the last answer is the root cause."""
    category = category_of(category)
    if category is not None and category not in CATEGORIES:
        raise Invalid(f"category: {category!r} is not one of {', '.join(CATEGORIES)}", field="category",
                      allowed=list(CATEGORIES))
    chain = _lines(whys)
    if len(chain) > MAX_WHYS:
        raise Invalid(f"whys: at most {MAX_WHYS} steps in the chain", field="whys")
    lock_incident(session, incident_id)
    rc = session.get(RootCause, incident_id, with_for_update=True)
    before = root_cause_json(rc)
    if rc is None:
        rc = RootCause(incident_id=incident_id)
        session.add(rc)
    rc.category, rc.summary, rc.finding = category, summary, finding
    rc.factors = _lines(factors)
    rc.whys, rc.remediation = chain, _lines(remediation)
    rc.regression_test = regression_test.strip() if regression_test and regression_test.strip() else None
    rc.prevention = prevention
    rc.updated_at, rc.updated_by = now, actor
    session.flush()
    append_timeline(session, incident_id, "root_cause", actor,
                    {"category": category, "factors": rc.factors, "summary": summary, "whys": len(chain),
                     "remediation": len(rc.remediation), "regression_test": rc.regression_test,
                     "previous_category": before["category"]}, at=now)
    return rc


def action_json(a: ActionItem, today: date) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "owner": a.owner, "due": a.due.isoformat(),
            "status": "done" if a.done_at else ("overdue" if a.due < today else "open"),
            "created_at": stamp(a.created_at), "created_by": a.created_by,
            "done_at": stamp(a.done_at) if a.done_at else None, "done_by": a.done_by}


def actions(session: Session, incident_id: str) -> list[ActionItem]:
    return list(session.scalars(select(ActionItem).where(ActionItem.incident_id == incident_id)
                                .order_by(ActionItem.due, ActionItem.id)))


def add_action(session: Session, incident_id: str, title: str, owner: str, due: date, actor: str,
               now: datetime) -> ActionItem:
    lock_incident(session, incident_id)
    item = ActionItem(incident_id=incident_id, title=title, owner=owner, due=due, created_at=now, created_by=actor)
    session.add(item)
    session.flush()
    append_timeline(session, incident_id, "action_item", actor,
                    {"action_id": item.id, "title": title, "owner": owner, "due": due.isoformat()}, at=now)
    return item


def complete_action(session: Session, incident_id: str, action_id: int, actor: str, now: datetime) -> ActionItem:
    lock_incident(session, incident_id)
    item = session.get(ActionItem, action_id)
    if item is None or item.incident_id != incident_id:
        raise NotFound(f"no action item {action_id} on incident {incident_id}")
    if item.done_at is None:
        item.done_at, item.done_by = now, actor
        append_timeline(session, incident_id, "action_item_done", actor, {"action_id": item.id, "title": item.title},
                        at=now)
    return item


def complete(session: Session, incident_id: str, actor: str, now: datetime) -> Postmortem:
    inc = lock_incident(session, incident_id)
    if inc.resolved_at is None and inc.state not in ("closed", "false_positive"):
        raise Conflict(f"incident {incident_id} is {inc.state}: a post-mortem is completed after resolution",
                       state=inc.state)
    row = session.get(Postmortem, incident_id)
    if row is not None:
        raise Conflict(f"the post-mortem of {incident_id} was completed at {stamp(row.completed_at)}")
    row = Postmortem(incident_id=incident_id, completed_at=now, completed_by=actor)
    session.add(row)
    append_timeline(session, incident_id, "postmortem_completed", actor, {}, at=now)
    return row


def due_list(session: Session, business_days: int, today: date, *, overdue_only: bool) -> list[dict[str, Any]]:
    """Resolved incidents and where their post-mortems stand (false positives need none)."""
    rows = session.scalars(select(Incident).where(Incident.resolved_at.is_not(None),
                                                  Incident.state.in_(("resolved", "closed")))
                           .order_by(Incident.resolved_at.desc()))
    out = []
    for inc in rows:
        st = status(session, inc, business_days, today)
        if overdue_only and not st["overdue"]:
            continue
        out.append({"incident_id": inc.id, "title": inc.title, "severity": inc.severity, "type": inc.type,
                    "resolved_at": stamp(inc.resolved_at) if inc.resolved_at else None, **st})
    return out


def exists(session: Session, incident_id: str) -> Incident:
    return get_incident(session, incident_id)
