"""Dead letters: calls that could not be stored while the rest of their batch was.

A row is dead-lettered when the database refuses it on its own (after the batch was retried
row by row) or when it cannot even be prepared. The record is kept AES-GCM encrypted with the
reason; the reason never quotes the data (values inside quotes are cut from engine messages).
Listed for admins at `GET /api/v1/dead-letters`, counted in `fireline_dead_letters_total`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fireline.calls import privacy
from fireline.calls.models import DeadLetter
from fireline.db import Database, utcnow
from fireline.errors import FirelineError, NotFound
from fireline.metrics import REGISTRY

log = logging.getLogger("fireline.calls")

DEAD_LETTERS = Counter("fireline_dead_letters_total", "Calls dead-lettered (not stored), by source and stage",
                       ["source", "stage"], registry=REGISTRY)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


@dataclass(slots=True)
class Dead:
    """A call that could not be stored: its id, why, and the record to keep encrypted."""

    call_id: str | None
    reason: str
    stage: str  # prepare | store
    record: dict[str, Any] | None = None
    pseudonym: str | None = None


def failure_reason(error: BaseException) -> str:
    """A short reason without data: the engine's primary message with quoted values cut."""
    if isinstance(error, FirelineError):
        return error.message[:300]
    orig = getattr(error, "orig", None) or error
    diag = getattr(orig, "diag", None)
    text = getattr(diag, "message_primary", None) if diag is not None else None
    text = text or (str(orig).splitlines()[0] if str(orig) else "")
    code = getattr(orig, "sqlstate", None)
    text = _QUOTED.sub('"..."', text)[:200]
    return f"{type(orig).__name__}{f' [{code}]' if code else ''}: {text}"


def _blob(record: dict[str, Any] | None) -> bytes | None:
    if record is None:
        return None
    try:
        return privacy.encrypt(record)
    except (TypeError, ValueError):  # not even encodable: keep the id and the reason only
        return None


def record(db: Database, dead: Sequence[Dead], *, source: str) -> None:
    """Store the dead letters (one transaction). Raises if the database is unavailable."""
    if not dead:
        return
    now = utcnow()
    rows = [DeadLetter(source=source, call_id=d.call_id, stage=d.stage, reason=d.reason[:500], created_at=now,
                       user_pseudonym=d.pseudonym, blob=_blob(d.record))
            for d in dead]
    with db.writing() as session:
        session.add_all(rows)
    for d in dead:
        DEAD_LETTERS.labels(source, d.stage).inc()
    log.warning("dead-lettered %d %s call(s): %s", len(dead), source,
                "; ".join(f"{d.call_id}: {d.reason}" for d in dead[:5]))


def to_out(row: DeadLetter) -> dict[str, Any]:
    return {"id": row.id, "source": row.source, "call_id": row.call_id, "stage": row.stage, "reason": row.reason,
            "created_at": row.created_at, "has_record": row.blob is not None}


def listing(session: Session, *, source: str | None = None, since: datetime | None = None,
            limit: int = 100) -> list[DeadLetter]:
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(DeadLetter.source == source)
    if since:
        stmt = stmt.where(DeadLetter.created_at >= since)
    return list(session.scalars(stmt))


def get(session: Session, dead_id: int) -> DeadLetter:
    row = session.get(DeadLetter, dead_id)
    if row is None:
        raise NotFound(f"no dead letter with id {dead_id}")
    return row


def content(row: DeadLetter) -> dict[str, Any] | None:
    return privacy.decrypt(row.blob) if row.blob is not None else None


def erase(session: Session, user_pseudonym: str) -> int:
    result = session.execute(delete(DeadLetter).where(DeadLetter.user_pseudonym == user_pseudonym))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_before(session: Session, cutoff: datetime) -> int:
    result = session.execute(delete(DeadLetter).where(DeadLetter.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
