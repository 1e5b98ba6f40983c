"""Notifications off the incident path: bus handlers only enqueue; a background task routes,
stores (the `comms_deliveries` outbox), sends with exponential backoff and records every
attempt on the incident timeline ("message_sent" / "message_failed").

The bus handlers run in the publisher's thread after its commit; they put the event on an
in-memory queue and wake the worker, so a slow or dead receiver never delays an incident move.
Deliveries are durable from the moment they are routed: a restart resumes pending ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.background import Backoff
from fireline.comms import channels, messages
from fireline.comms.config import CommsConfig
from fireline.comms.models import Delivery
from fireline.config import get_settings
from fireline.db import Database, is_unavailable, utcnow
from fireline.incidents.models import Incident
from fireline.incidents.timeline import append_timeline
from fireline.metrics import BACKGROUND_FAILURES

log = logging.getLogger("fireline.comms")
ACTOR = "fireline:comms"
LEASE = timedelta(seconds=60)  # a claimed delivery is retried after this if its sender died


@dataclass(slots=True)
class Event:
    name: str
    incident_id: str
    data: dict[str, Any] = field(default_factory=dict)


class Runtime:
    """One per running app (keyed by its Database): config, clock, inbox and the worker's wake-up."""

    def __init__(self, db: Database, cfg: CommsConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.cfg = cfg
        self.clock = clock
        self.inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.next_check: datetime | None = None
        self.last_created: datetime | None = None
        self.hooks: list[Callable[[Runtime, Event, datetime], list[Event]]] = []  # obligations on events
        self.console_url = cfg.comms.console_url or get_settings().url

    def submit(self, event: Event) -> None:
        self.inbox.put(event)
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    # --- bus handlers (subscribed by fireline.wiring): enqueue only ---
    def on_opened(self, *, incident_id: str, **_: Any) -> None:
        self.submit(Event("opened", incident_id))

    def on_changed(self, *, incident_id: str, state: str, actor: str | None = None, event: str | None = None,
                   **_: Any) -> None:
        # `event` names the move: "acknowledged" leaves a contained incident contained.
        self.submit(Event(event or state, incident_id, {"actor": actor}))

    def on_escalated(self, *, incident_id: str, severity: str | None = None, **_: Any) -> None:
        self.submit(Event("escalated", incident_id, {"severity": severity}))

    def on_sla_breached(self, *, incident_id: str, clock: str | None = None, **_: Any) -> None:
        self.submit(Event("sla_breached", incident_id, {"clock": clock}))


# --- routing into the outbox -----------------------------------------------------------------

def route(session: Session, rt: Runtime, event: Event, now: datetime) -> list[Delivery]:
    """Store one delivery per channel the routes pick for this event (in the caller's transaction)."""
    inc = session.get(Incident, event.incident_id)
    if inc is None:
        log.warning("comms: event %s for unknown incident %s", event.name, event.incident_id)
        return []
    names = rt.cfg.notifications.channels_for(inc.severity, inc.type, event.name, drill=bool(inc.drill))
    if names and event.name == "opened":  # "incident.opened" is delivered at least once (the outbox)
        sent = set(session.scalars(select(Delivery.channel).where(Delivery.incident_id == inc.id,
                                                                  Delivery.event == "opened")))
        names = [n for n in names if n not in sent]
    if not names:
        return []
    message = messages.build(inc, event.name, event.data, now, rt.console_url)
    if rt.last_created is not None and now <= rt.last_created:  # keeps creation order = event order
        now = rt.last_created + timedelta(microseconds=1)
    rt.last_created = now
    rows = [Delivery(id=f"DLV-{ULID()}", incident_id=inc.id, event=event.name, channel=name,
                     channel_type=rt.cfg.notifications.channels[name].type, message=message, status="pending",
                     attempts=0, created_at=now, next_attempt_at=now) for name in names]
    session.add_all(rows)
    return rows


def drain(rt: Runtime) -> int:
    """Route every queued event (and what the hooks derive from it); returns deliveries stored."""
    stored = 0
    while True:
        try:
            event = rt.inbox.get_nowait()
        except queue.Empty:
            return stored
        now = rt.clock()
        try:
            with rt.db.writing() as session:
                stored += len(route(session, rt, event, now))
            follow: list[Event] = []
            for hook in rt.hooks:  # they read first and take the write lock only to change something
                follow.extend(hook(rt, event, now))
            for ev in follow:
                rt.inbox.put(ev)
        except Exception:
            log.exception("comms: routing %s for %s failed", event.name, event.incident_id)


# --- sending ---------------------------------------------------------------------------------

def claim_due(rt: Runtime, now: datetime, limit: int = 100) -> list[list[Delivery]]:
    """Due deliveries, grouped per (incident, channel) in creation order. A group is skipped while
    an older delivery of the same pair waits for a retry, so a receiver sees an incident's
    messages in order (PagerDuty must not get `resolve` before `trigger`)."""
    with rt.db.session() as s:
        pending = list(s.scalars(select(Delivery).where(Delivery.status == "pending")
                                 .order_by(Delivery.created_at, Delivery.id).limit(limit * 4)))
    groups: dict[tuple[str, str], list[Delivery]] = {}
    blocked: set[tuple[str, str]] = set()
    for d in pending:
        key = (d.incident_id, d.channel)
        if key in blocked:
            continue
        if d.next_attempt_at is not None and d.next_attempt_at > now:
            blocked.add(key)  # the head of this pair is backing off (or being sent): keep order
            continue
        groups.setdefault(key, []).append(d)
    claimed: list[list[Delivery]] = []
    budget = limit
    for group in groups.values():
        if budget <= 0:
            break
        taken: list[Delivery] = []
        for d in group[:budget]:
            with rt.db.writing() as s:
                done = s.execute(update(Delivery).where(Delivery.id == d.id, Delivery.status == "pending",
                                                        Delivery.next_attempt_at == d.next_attempt_at)
                                 .values(next_attempt_at=now + LEASE).execution_options(synchronize_session=False))
            if not done.rowcount:  # type: ignore[attr-defined]
                break  # another worker took it: leave the rest of the pair to that worker
            taken.append(d)
        budget -= len(taken)
        if taken:
            claimed.append(taken)
    return claimed


def release(rt: Runtime, rows: list[Delivery], now: datetime) -> None:
    """Hand claimed deliveries back (their pair's head failed; they go after its retry)."""
    if rows:
        with rt.db.writing() as s:
            s.execute(update(Delivery).where(Delivery.id.in_([d.id for d in rows]), Delivery.status == "pending")
                      .values(next_attempt_at=now).execution_options(synchronize_session=False))


def record(rt: Runtime, d: Delivery, outcome: str | None, error: channels.DeliveryError | None,
           now: datetime) -> None:
    """Write the attempt's outcome on the delivery and on the incident timeline."""
    attempt = d.attempts + 1
    retry = rt.cfg.notifications.retry
    data: dict[str, Any] = {"delivery_id": d.id, "channel": d.channel, "channel_type": d.channel_type,
                            "event": d.event, "attempt": attempt, "subject": d.message.get("subject")}
    values: dict[str, Any] = {"attempts": attempt}
    if error is None:
        values |= {"status": "sent", "sent_at": now, "next_attempt_at": None, "last_error": None}
        kind = "message_sent"
        data["outcome"] = outcome
    else:
        final = error.permanent or attempt >= retry.attempts
        nxt = None if final else now + timedelta(seconds=retry.delay(attempt))
        values |= {"status": "failed" if final else "pending", "next_attempt_at": nxt, "last_error": str(error)}
        kind = "message_failed"
        data |= {"error": str(error)[:500], "final": final,
                 "next_attempt_at": nxt.isoformat() if nxt else None}
    with rt.db.writing() as s:
        s.execute(update(Delivery).where(Delivery.id == d.id).values(**values)
                  .execution_options(synchronize_session=False))
        if s.get(Incident, d.incident_id) is not None:
            append_timeline(s, d.incident_id, kind, ACTOR, data, at=now)


async def send_one(rt: Runtime, d: Delivery, client: httpx.AsyncClient) -> bool:
    channel = rt.cfg.notifications.channels.get(d.channel)
    outcome: str | None = None
    error: channels.DeliveryError | None = None
    if channel is None:
        error = channels.DeliveryError(f"channel {d.channel!r} is no longer configured", permanent=True)
    else:
        try:
            outcome = await channels.send(channel, d.message, d.id, client, rt.cfg.notifications.timeout_s)
        except channels.DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a sender must not kill the worker
            log.exception("comms: sender %s crashed", d.channel_type)
            error = channels.DeliveryError(f"{type(exc).__name__}: {exc}")
    await asyncio.to_thread(record, rt, d, outcome, error, rt.clock())
    return error is None or error.permanent


async def send_group(rt: Runtime, group: list[Delivery], client: httpx.AsyncClient) -> None:
    for i, d in enumerate(group):
        if not await send_one(rt, d, client):
            await asyncio.to_thread(release, rt, group[i + 1:], rt.clock())
            return


Periodic = Callable[[Runtime, datetime], None]


class LazyClient:
    """The worker's HTTP client, made for the first delivery: its transport (httpcore) and the CA
    bundle cost ~0.1 s of CPU, which a start spent whether or not anything is ever sent."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.timeout)
        return self.client

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


async def tick(rt: Runtime, client: LazyClient, periodic: list[Periodic]) -> None:
    await asyncio.to_thread(drain, rt)
    now = rt.clock()
    if rt.next_check is None or now >= rt.next_check:
        rt.next_check = now + timedelta(seconds=rt.cfg.comms.check_interval_s)
        for check in periodic:
            try:
                await asyncio.to_thread(check, rt, now)
            except Exception as exc:
                name = getattr(check, "__name__", str(check))
                BACKGROUND_FAILURES.labels(f"comms-{name}").inc()
                if is_unavailable(exc):  # one line, not a traceback per check while the database is away
                    log.warning("comms: periodic check %s skipped: the database is unavailable (%s)", name,
                                type(exc).__name__)
                else:
                    log.exception("comms: periodic check %s failed", name)
        await asyncio.to_thread(drain, rt)
    groups = await asyncio.to_thread(claim_due, rt, rt.clock())
    if groups:
        http = client.get()
        await asyncio.gather(*(send_group(rt, g, http) for g in groups))


async def worker(rt: Runtime, periodic: list[Periodic]) -> None:
    rt.loop = asyncio.get_running_loop()
    rt.wake = asyncio.Event()
    interval = rt.cfg.notifications.poll_interval_s
    backoff = Backoff(interval, 60.0)
    client = LazyClient(rt.cfg.notifications.timeout_s)
    try:
        while True:
            rt.wake.clear()
            try:
                await tick(rt, client, periodic)
            except Exception as exc:  # the database away: log, back off, carry on
                await asyncio.sleep(backoff.failed("comms-delivery", exc))
                continue
            backoff.succeeded("comms-delivery")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rt.wake.wait(), timeout=interval)
    finally:
        await client.aclose()
