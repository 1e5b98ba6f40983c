"""Events and metrics of a transaction, released only after it commits.

Service functions queue with `emit(session, topic, **payload)` / `after_commit(session, fn)`.
`within(db_or_session, fn)` runs `fn` in a transaction of its own when given a Database and
then publishes what was queued; given a Session, the caller owns the transaction and calls
`publish_pending(db, session)` after its commit. Publishing after the commit matters: a
handler that writes (comms, controls) must not wait on the SQLite write lock we still hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from fireline import outbox
from fireline.db import Database

T = TypeVar("T")
KEY = "fireline.incidents.pending"


def emit(session: Session, topic: str, *, durable: bool = False, **payload: Any) -> None:
    """Queue an event for after the commit. `durable`: also write its outbox entry now, in this
    transaction, so a crash or a failing handler delays it instead of losing it (JSON payloads)."""
    entry = outbox.add(session, topic, payload) if durable else None
    session.info.setdefault(KEY, []).append((topic, payload, entry))


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    session.info.setdefault(KEY, []).append((None, fn, None))


def publish_pending(db: Database, session: Session) -> None:
    for topic, item, entry in session.info.pop(KEY, []):
        if topic is None:
            item()
        elif entry is not None:
            db.bus.publish_durable(topic, entry, db=db, **item)
        else:
            db.bus.publish(topic, db=db, **item)


def discard_pending(session: Session) -> None:
    session.info.pop(KEY, None)


def within(target: Database | Session, fn: Callable[[Session], T]) -> T:
    if isinstance(target, Session):
        return fn(target)
    session: Session | None = None
    try:
        with target.writing() as s:
            session = s
            result = fn(s)
    except BaseException:
        if session is not None:
            discard_pending(session)
        raise
    publish_pending(target, session)
    return result
