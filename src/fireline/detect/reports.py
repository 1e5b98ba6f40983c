"""User reports and feedback on calls: stored redacted, fed to the report monitors, erased with
the person whose call they are about.

Feedback lands: a report may carry `at` (history backfilled with its real timestamps, so feedback
monitors start from a real baseline), and a report on a call that is not written yet (the gateway
answers before its writer stores the call) is kept as pending and joined when the call lands;
one whose call never lands within `PENDING_HOURS` is dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline import pii
from fireline.calls.models import Call
from fireline.calls.service import CallNotFound
from fireline.db import utcnow
from fireline.detect.facts import Fact
from fireline.detect.models import PendingReport, Report
from fireline.errors import Invalid

KINDS = ("harmful", "wrong", "leak", "other", "thumbs_down")
MAX_TEXT = 10_000
PENDING_HOURS = 24
FUTURE_SLACK = timedelta(minutes=5)


def when(at: datetime | None) -> datetime:
    """The report's time: given (backfill) or now; refused without a timezone or in the future."""
    now = utcnow()
    if at is None:
        return now
    if at.tzinfo is None:
        raise Invalid("at: give a timezone (e.g. 2026-11-22T10:00:00Z)", field="at")
    if at > now + FUTURE_SLACK:
        raise Invalid("at: a report cannot be dated in the future", field="at")
    return at


def create(session: Session, call_id: str, kind: str, text: str | None, *, actor: str,
           at: datetime | None = None, pending: bool = True) -> Report | PendingReport:
    """A report on a stored call, or (`pending`) a pending one for a call not written yet."""
    stamp = when(at)
    redacted, _ = pii.redact(text or "")
    call = session.get(Call, call_id)
    if call is None:
        if not pending:
            raise CallNotFound(f"call_id: no call with id {call_id}", field="call_id")
        waiting = PendingReport(id=str(ULID()), call_id=call_id, kind=kind, text=redacted, at=stamp,
                                received_at=utcnow(), actor=actor)
        session.add(waiting)
        return waiting
    report = of_call(call, str(ULID()), kind, redacted, stamp, actor)
    session.add(report)
    return report


def of_call(call: Any, report_id: str, kind: str, text: str, at: datetime, actor: str) -> Report:
    """A report row with the call's keys copied (`call` is a Call row or a prepared row's dict)."""
    get = call.get if isinstance(call, dict) else lambda k: getattr(call, k)
    return Report(id=report_id, call_id=get("id"), kind=kind, text=text, at=at, actor=actor, app=get("app"),
                  tenant=get("tenant"), model=get("model_resolved") or get("model"),
                  prompt_version=get("prompt_version"), tools=get("tools"), user_pseudonym=get("user_pseudonym"))


def join_pending(session: Session, rows: dict[str, dict[str, Any]]) -> list[Report]:
    """Turn the pending reports on these just-written calls (id -> row) into reports."""
    waiting = list(session.scalars(select(PendingReport).where(PendingReport.call_id.in_(list(rows)))))
    joined = [of_call(rows[w.call_id], w.id, w.kind, w.text, w.at, w.actor) for w in waiting]
    session.add_all(joined)
    if waiting:
        session.execute(delete(PendingReport).where(PendingReport.id.in_([w.id for w in waiting])))
    return joined


def pending_ids(session: Session) -> set[str]:
    return set(session.scalars(select(PendingReport.call_id).distinct()))


def expire_pending(session: Session) -> int:
    cutoff = utcnow() - timedelta(hours=PENDING_HOURS)
    result: Any = session.execute(delete(PendingReport).where(PendingReport.received_at < cutoff))
    return int(result.rowcount or 0)


def fact_of(report: Report) -> Fact:
    tools = tuple(dict.fromkeys((report.tools or "").split())) if report.tools else ()
    return Fact(id=report.call_id, minute=int(report.at.timestamp() // 60), app=report.app, tenant=report.tenant,
                model=report.model, prompt_version=report.prompt_version, tools=tools, report_kind=report.kind)


def listing(session: Session, *, call_id: str | None = None, kind: str | None = None,
            limit: int = 100) -> list[Report]:
    stmt = select(Report).order_by(Report.at.desc(), Report.id.desc()).limit(limit)
    if call_id:
        stmt = stmt.where(Report.call_id == call_id)
    if kind:
        stmt = stmt.where(Report.kind == kind)
    return list(session.scalars(stmt))


def to_out(r: Report | PendingReport) -> dict[str, Any]:
    if isinstance(r, PendingReport):
        return {"id": r.id, "call_id": r.call_id, "kind": r.kind, "text": r.text, "at": r.at, "app": None,
                "tenant": None, "status": "pending"}
    return {"id": r.id, "call_id": r.call_id, "kind": r.kind, "text": r.text, "at": r.at, "app": r.app,
            "tenant": r.tenant, "status": "stored"}


def on_subject_erased(session: Session, user_pseudonym: str, **_: Any) -> None:
    """Reports about an erased person's calls go with the calls (held calls keep theirs)."""
    still_held = select(Call.id).where(Call.user_pseudonym == user_pseudonym)
    session.execute(delete(Report).where(Report.user_pseudonym == user_pseudonym,
                                         Report.call_id.not_in(still_held)))


def on_calls_purged(session: Session, call_ids: list[str], **_: Any) -> None:
    """Reports live as long as the calls they are about: retention takes them together."""
    session.execute(delete(Report).where(Report.call_id.in_(call_ids)))
    session.execute(delete(PendingReport).where(PendingReport.call_id.in_(call_ids)))

