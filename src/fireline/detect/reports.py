"""User reports and feedback on calls: stored redacted, fed to the report monitors, erased with
the person whose call they are about."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline import pii
from fireline.calls.models import Call
from fireline.calls.service import CallNotFound
from fireline.db import utcnow
from fireline.detect.models import Report
from fireline.detect.monitors import Fact

KINDS = ("harmful", "wrong", "leak", "other", "thumbs_down")
MAX_TEXT = 10_000


def create(session: Session, call_id: str, kind: str, text: str | None, *, actor: str) -> Report:
    call = session.get(Call, call_id)
    if call is None:
        raise CallNotFound(f"call_id: no call with id {call_id}", field="call_id")
    redacted, _ = pii.redact(text or "")
    report = Report(id=str(ULID()), call_id=call_id, kind=kind, text=redacted, at=utcnow(), actor=actor,
                    app=call.app, tenant=call.tenant, model=call.model_resolved or call.model,
                    prompt_version=call.prompt_version, tools=call.tools, user_pseudonym=call.user_pseudonym)
    session.add(report)
    return report


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


def to_out(r: Report) -> dict[str, Any]:
    return {"id": r.id, "call_id": r.call_id, "kind": r.kind, "text": r.text, "at": r.at, "app": r.app,
            "tenant": r.tenant}


def on_subject_erased(session: Session, user_pseudonym: str, **_: Any) -> None:
    """Reports about an erased person's calls go with the calls (held calls keep theirs)."""
    still_held = select(Call.id).where(Call.user_pseudonym == user_pseudonym)
    session.execute(delete(Report).where(Report.user_pseudonym == user_pseudonym,
                                         Report.call_id.not_in(still_held)))


def on_calls_purged(session: Session, call_ids: list[str], **_: Any) -> None:
    """Reports live as long as the calls they are about: retention takes them together."""
    session.execute(delete(Report).where(Report.call_id.in_(call_ids)))

