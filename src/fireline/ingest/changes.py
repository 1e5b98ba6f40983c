"""Change markers: what was deployed when (model, prompt, config, guardrail, retrieval index,
code), kept for incident timelines and "what changed before onset?" analysis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.db import utcnow
from fireline.errors import Invalid
from fireline.ingest.models import Change
from fireline.validation import Instant, NonBlank

Kind = Literal["model", "prompt", "config", "guardrail", "retrieval_index", "code"]
KINDS: tuple[str, ...] = ("model", "prompt", "config", "guardrail", "retrieval_index", "code")
MAX_LIST = 1000


class ChangeIn(BaseModel):
    """A marker as sent to POST /api/v1/changes (`time` is accepted for `at`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Kind
    app: NonBlank = Field(min_length=1, max_length=200)
    from_: str | None = Field(None, alias="from", max_length=500)
    to: str | None = Field(None, max_length=500)
    actor: str | None = Field(None, max_length=200)
    at: Instant | None = Field(None, validation_alias=AliasChoices("at", "time"))
    description: str | None = Field(None, max_length=10_000)
    details: dict[str, Any] = Field(default_factory=dict)


class ChangeOut(BaseModel):
    id: str
    kind: str
    app: str
    from_: str | None = Field(serialization_alias="from")
    to: str | None
    actor: str
    at: datetime
    description: str | None
    details: dict[str, Any]
    recorded_at: datetime
    recorded_by: str

    @classmethod
    def of(cls, row: Change) -> ChangeOut:
        return cls(id=row.id, kind=row.kind, app=row.app, from_=row.from_version, to=row.to_version, actor=row.actor,
                   at=row.at, description=row.description, details=row.details or {}, recorded_at=row.recorded_at,
                   recorded_by=row.recorded_by)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def record(session: Session, change: ChangeIn, *, recorded_by: str) -> Change:
    now = utcnow()
    at = change.at or now
    if at.tzinfo is None:
        raise Invalid("at: give a timezone (e.g. 2026-11-22T10:00:00Z)", field="at")
    if at > now + timedelta(days=1):
        raise Invalid("at: a change marker cannot be more than a day in the future", field="at")
    row = Change(id=f"chg_{ULID()}", kind=change.kind, app=change.app, from_version=change.from_, to_version=change.to,
                 actor=change.actor or recorded_by, at=at, description=change.description, details=change.details,
                 recorded_at=now, recorded_by=recorded_by)
    session.add(row)
    session.flush()
    return row


def search(session: Session, *, app: str | None = None, kind: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 100) -> list[Change]:
    if kind is not None and kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    stmt = select(Change)
    if app is not None:
        stmt = stmt.where(Change.app == app)
    if kind is not None:
        stmt = stmt.where(Change.kind == kind)
    if since is not None:
        stmt = stmt.where(Change.at >= since)
    if until is not None:
        stmt = stmt.where(Change.at < until)
    return list(session.scalars(stmt.order_by(Change.at.desc(), Change.id.desc()).limit(min(limit, MAX_LIST))))


def changes_between(session: Session, since: datetime, until: datetime,
                    apps: Sequence[str] | None = None) -> list[Change]:
    """Markers with since <= at <= until, oldest first (for investigation and timelines);
    `apps` restricts to those apps (None or empty: every app)."""
    stmt = select(Change).where(Change.at >= since, Change.at <= until)
    if apps:
        stmt = stmt.where(Change.app.in_(list(apps)))
    return list(session.scalars(stmt.order_by(Change.at, Change.id)))


def evidence(session: Session, *, onset: datetime | None = None, apps: Sequence[str] | None = None,
             hours: float = 24.0) -> dict[str, Any]:
    """Change markers from `hours` before `onset` (default now) until now, for incident snapshots."""
    now = utcnow()
    since = min(onset or now, now) - timedelta(hours=hours)
    rows = changes_between(session, since, now, apps)
    return {"since": since.isoformat(), "until": now.isoformat(), "apps": list(apps or []),
            "changes": [ChangeOut.of(r).dump() for r in rows]}
