"""Searching the call log: the filters of `GET /api/v1/calls` (and its count), newest first, paged
by an opaque cursor."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from fireline.calls import privacy
from fireline.calls.models import Call, CallFinding
from fireline.errors import Invalid


class InvalidCursor(Invalid):
    pass


@dataclass(slots=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    app: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    tenant: str | None = None
    session_id: str | None = None
    user: str | None = None  # the raw user id: hashed the same way as at ingest
    user_pseudonym: str | None = None
    status: str | None = None
    text: str | None = None
    detector: str | None = None
    finding_kind: str | None = None
    environment: str | None = None
    trace_id: str | None = None
    api_key_id: str | None = None

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        conds = []
        if self.since:
            conds.append(Call.started_at >= self.since)
        if self.until:
            conds.append(Call.started_at < self.until)
        for col, val in ((Call.app, self.app), (Call.tenant, self.tenant), (Call.session_id, self.session_id),
                         (Call.prompt_version, self.prompt_version), (Call.status, self.status),
                         (Call.environment, self.environment), (Call.trace_id, self.trace_id),
                         (Call.api_key_id, self.api_key_id),
                         (Call.user_pseudonym, self.user_pseudonym)):
            if val is not None:
                conds.append(col == val)
        if self.model is not None:
            conds.append(or_(Call.model == self.model, Call.model_resolved == self.model))
        if self.user is not None:
            conds.append(Call.user_pseudonym == privacy.pseudonym(self.user))
        if self.text:
            # Content is JSON text: search for the needle as JSON would encode it.
            needle = orjson.dumps(self.text).decode()[1:-1]
            needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(Call.content.ilike(f"%{needle}%", escape="\\"))
        if self.detector or self.finding_kind:
            sub = select(CallFinding.call_id)
            if self.detector:
                sub = sub.where(CallFinding.detector == self.detector)
            if self.finding_kind:
                sub = sub.where(CallFinding.kind == self.finding_kind)
            conds.append(Call.id.in_(sub))
        return stmt.where(and_(*conds)) if conds else stmt


def encode_cursor(call: Call) -> str:
    return base64.urlsafe_b64encode(f"{call.started_at.isoformat()}|{call.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, call_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), call_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one this server issued", field="cursor") from exc


def search(session: Session, flt: CallFilter, *, limit: int = 50,
           cursor: str | None = None) -> tuple[list[Call], str | None]:
    stmt = flt.apply(select(Call))
    if cursor:
        at, cid = decode_cursor(cursor)
        stmt = stmt.where(or_(Call.started_at < at, and_(Call.started_at == at, Call.id < cid)))
    rows = list(session.scalars(stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def count(session: Session, flt: CallFilter) -> int:
    return int(session.scalar(flt.apply(select(func.count()).select_from(Call))) or 0)
