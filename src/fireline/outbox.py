"""The transactional outbox: work whose loss matters survives a crash or a failing handler.

A publisher writes an outbox entry (`add`) in the same transaction as the fact it follows
from (calls stored -> "calls.ingested", monitor alert recorded -> "alert.fired", incident
opened -> "incident.opened"). After the commit it delivers the event in memory at once
(`EventBus.publish_durable`); the handlers that succeed are done, the ones that raise are
written on the entry and retried by the worker with exponential backoff. An entry nobody
delivered (the process died between commit and delivery) becomes due after a grace period
and is delivered by the worker, in any process, after a restart too. Delivery is therefore
at least once: handlers are idempotent. Done entries are deleted in batches (one statement
per worker step), so the hot path pays one INSERT inside a transaction it already has.

Redelivered payloads are the JSON stored here plus `db` and `redelivered=True`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import BigInteger, Integer, String, delete, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from fireline.background import Backoff
from fireline.db import Base, Database, JSONType, UTCDateTime, is_unavailable, utcnow
from fireline.events import EventBus, where
from fireline.metrics import OUTBOX_REDELIVERED

log = logging.getLogger("fireline.outbox")

GRACE = timedelta(seconds=10)  # how long the in-memory delivery has before the worker takes over
LEASE = timedelta(seconds=60)  # a claimed entry is taken again after this if its worker died


class OutboxEntry(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    handlers: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)  # still owed; None = all
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))



# One statement for every entry (values bound, not inlined: its compiled form is cached once).
_ADD = insert(OutboxEntry).returning(OutboxEntry.id)


def add(session: Any, topic: str, payload: dict[str, Any], now: datetime | None = None) -> int:
    """Write an entry in the caller's transaction (a Session or a Connection); returns its id."""
    now = now or utcnow()
    row = {"topic": topic, "payload": payload, "handlers": None, "created_at": now, "next_attempt_at": now + GRACE,
           "attempts": 0}
    return int(session.execute(_ADD, row).scalar_one())


def add_many(session: Any, topic: str, payloads: list[dict[str, Any]], now: datetime | None = None) -> list[int]:
    """Several entries of one topic in one statement (the alerts one batch fired); their ids, in order."""
    if not payloads:
        return []
    now = now or utcnow()
    rows = [{"topic": topic, "payload": p, "handlers": None, "created_at": now, "next_attempt_at": now + GRACE,
             "attempts": 0} for p in payloads]
    conn = session.connection() if isinstance(session, Session) else session
    if conn.dialect.name == "sqlite":
        # SQLAlchemy cannot order RETURNING on SQLite, so it would send one INSERT per entry. One
        # INSERT numbers its rows in VALUES order (the id is the rowid: one more than the largest,
        # row after row, under SQLite's one writer); RETURNING lists them in no promised order.
        return sorted(int(i) for i in conn.execute(insert(OutboxEntry).returning(OutboxEntry.id), rows).scalars())
    stmt = insert(OutboxEntry).returning(OutboxEntry.id, sort_by_parameter_order=True)
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


def take(db: Database, topic: str, limit: int = 10_000) -> list[OutboxEntry]:
    """Remove and return the pending entries of a topic (a part replaying them at start)."""
    with db.writing() as session:
        rows = list(session.scalars(select(OutboxEntry).where(OutboxEntry.topic == topic)
                                    .order_by(OutboxEntry.id).limit(limit)))
        if rows:
            session.execute(delete(OutboxEntry).where(OutboxEntry.id.in_([r.id for r in rows])))
    return rows


class Outbox:
    """One app's outbox worker: flushes in-memory outcomes, redelivers what is due."""

    def __init__(self, db: Database, bus: EventBus, *, poll_s: float = 0.5, retry_base_s: float = 1.0,
                 retry_cap_s: float = 300.0) -> None:
        self.db = db
        self.bus = bus
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self._lock = threading.Lock()
        self._done: list[int] = []
        self._owed: dict[int, list[str]] = {}
        self.depth: dict[str, tuple[int, float]] = {}  # topic -> (entries, age of the oldest in s)
        self.db_up: bool | None = None
        self.wake: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        bus.on_delivered = self.delivered

    # ---- outcomes of in-memory deliveries (called from any thread) ----
    def delivered(self, entry_id: int, failed: list[str]) -> None:
        with self._lock:
            if failed:
                self._owed[entry_id] = failed
            else:
                self._done.append(entry_id)

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_cap_s, self.retry_base_s * 2 ** min(max(attempts - 1, 0), 20)))

    def flush(self) -> None:
        with self._lock:
            done, owed = self._done, self._owed
            self._done, self._owed = [], {}
        if not done and not owed:
            return
        try:
            now = utcnow()
            with self.db.writing() as session:
                for i in range(0, len(done), 1000):
                    session.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(done[i:i + 1000])))
                for entry_id, names in owed.items():
                    session.execute(update(OutboxEntry).where(OutboxEntry.id == entry_id).values(
                        handlers=names, attempts=1, next_attempt_at=now + self.backoff(1),
                        last_error=f"in-memory delivery failed: {', '.join(names)}"[:300]))
        except BaseException:
            with self._lock:  # keep them for the next step
                self._done[:0] = done
                self._owed = {**owed, **self._owed}
            raise

    # ---- redelivery ----
    def _claim(self, now: datetime, limit: int) -> list[OutboxEntry]:
        with self.db.session() as session:
            rows = list(session.scalars(select(OutboxEntry).where(OutboxEntry.next_attempt_at <= now)
                                        .order_by(OutboxEntry.id).limit(limit)))
        claimed = []
        for row in rows:
            with self.db.writing() as session:
                got = session.execute(update(OutboxEntry).where(
                    OutboxEntry.id == row.id, OutboxEntry.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=now + LEASE).execution_options(synchronize_session=False))
            if got.rowcount:  # type: ignore[attr-defined]
                claimed.append(row)
        return claimed

    def redeliver(self, row: OutboxEntry) -> bool:
        """Deliver one entry to the handlers that still owe it; True when it is done."""
        names = row.handlers
        if names is not None and not any(n in names for n, _ in self.bus.named(row.topic)):
            log.warning("outbox entry %s (%s): handlers %s are no longer subscribed; dropped", row.id, row.topic,
                        ", ".join(names))
            failed: list[str] = []
        else:
            failed = self.bus.deliver(row.topic, only=names, db=self.db, redelivered=True, **row.payload)
        now = utcnow()
        with self.db.writing() as session:
            if not failed:
                session.execute(delete(OutboxEntry).where(OutboxEntry.id == row.id))
            else:
                attempts = row.attempts + 1
                session.execute(update(OutboxEntry).where(OutboxEntry.id == row.id).values(
                    handlers=failed, attempts=attempts, next_attempt_at=now + self.backoff(attempts),
                    last_error=f"attempt {attempts} failed: {', '.join(failed)}"[:300]))
        OUTBOX_REDELIVERED.labels(row.topic, "failed" if failed else "done").inc()
        return not failed

    def measure(self) -> None:
        now = utcnow()
        with self.db.session() as session:
            rows = session.execute(select(OutboxEntry.topic, func.count(), func.min(OutboxEntry.created_at))
                                   .group_by(OutboxEntry.topic)).all()
        depth = {}
        for topic, n, oldest in rows:
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=now.tzinfo)
            depth[str(topic)] = (int(n), max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        self.depth = depth

    def step(self, limit: int = 200) -> int:
        """Flush, redeliver what is due, measure; returns entries delivered for good."""
        try:
            self.flush()
            done = 0
            for row in self._claim(utcnow(), limit):
                done += self.redeliver(row)
            self.measure()
        except Exception as exc:
            if is_unavailable(exc):
                self.db_up = False
            raise
        self.db_up = True
        return done

    def kick(self) -> None:
        """Wake the worker now (thread-safe)."""
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        backoff = Backoff(self.poll_s, 30.0)
        while True:
            self.wake.clear()
            try:
                await asyncio.to_thread(self.step)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await asyncio.sleep(backoff.failed("outbox", exc))
                continue
            backoff.succeeded("outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.poll_s)

    def close(self) -> None:
        """Write what is known at shutdown (done entries), best effort."""
        try:
            self.flush()
        except Exception as exc:
            log.warning("outbox: final flush failed (%s at %s); entries will be redelivered", type(exc).__name__,
                        where(exc))


class OutboxCollector(Collector):
    """Outbox depth and lag by topic, and whether the database answered the worker's last step."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("fireline_outbox_depth", "Outbox entries not yet delivered", labels=["topic"])
        lag = GaugeMetricFamily("fireline_outbox_lag_seconds", "Age of the oldest undelivered outbox entry",
                                labels=["topic"])
        for topic, (n, age) in sorted(self.outbox.depth.items()):
            depth.add_metric([topic], n)
            lag.add_metric([topic], age)
        up = GaugeMetricFamily("fireline_database_up", "1 when the database answered the last background step")
        if self.outbox.db_up is not None:
            up.add_metric([], 1.0 if self.outbox.db_up else 0.0)
        yield from (depth, lag, up)
