"""Realistic call streams for the monitor tests: a week of sparse history, steady traffic, spikes.

History is backfilled with `started_at` timestamps (two calls an hour for seven days is enough
for a trusted baseline), so a test builds a week in one request.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fireline.events import EventBus
from fireline.signals import Alert

_ids = itertools.count()
Call = dict[str, Any]
Shape = Callable[[int, Call], Call]

SUPPORT_SYSTEM = "You are the support assistant of ACME. Answer briefly."


def now() -> datetime:
    return datetime.now(UTC)


def call(i: int, at: datetime, **over: Any) -> Call:
    n = next(_ids)
    c: Call = {
        "id": f"c{n}-{i}", "app": "support-bot", "environment": "prod", "tenant": "acme", "session_id": f"s-{i % 7}",
        "user": f"user{i % 11}@example.com", "model": "gpt-4o-2024-08-06", "prompt_version": "v12",
        "system_prompt": SUPPORT_SYSTEM,
        "input": [{"role": "user", "content": f"Where is my order {1000 + i}?"}],
        "output": f"Order {1000 + i} left the warehouse yesterday and arrives within two days.",
        "tool_calls": [{"name": "lookup_order", "arguments": {"order": 1000 + i}, "kind": "read"}],
        "input_tokens": 120, "output_tokens": 60, "cost_usd": 0.002, "latency_ms": 700 + (i * 37) % 300,
        "started_at": at.isoformat(),
    }
    c.update(over)
    return c


def every(n: int, **over: Any) -> Shape:
    """Every n-th call gets the overrides."""
    def shape(i: int, c: Call) -> Call:
        if i % n == 0:
            c.update(over)
        return c
    return shape


def always(**over: Any) -> Shape:
    def shape(i: int, c: Call) -> Call:
        c.update(over)
        return c
    return shape


def spread(n: int, start: datetime, end: datetime, shape: Shape | None = None) -> list[Call]:
    """n calls evenly between start and end, each passed through shape(i, call)."""
    step = (end - start) / max(n, 1)
    out = []
    for i in range(n):
        c = call(i, start + step * i)
        out.append(shape(i, c) if shape else c)
    return out


def history(shape: Shape | None = None, per_hour: int = 2, days: int = 7, until_minutes: int = 90) -> list[Call]:
    """A sparse week ending `until_minutes` ago (before every default window)."""
    end = now() - timedelta(minutes=until_minutes)
    return spread(per_hour * 24 * days, end - timedelta(days=days), end, shape)


def recent(n: int, minutes: float = 5, shape: Shape | None = None) -> list[Call]:
    """n calls over the last `minutes` (inside every default window)."""
    t = now()
    return spread(n, t - timedelta(minutes=minutes), t - timedelta(seconds=1), shape)


def send(client: httpx.Client, calls: list[Call]) -> list[str]:
    ids: list[str] = []
    for i in range(0, len(calls), 1000):
        r = client.post("/api/v1/calls", json={"calls": calls[i:i + 1000]})
        assert r.status_code == 201, r.text
        ids += r.json()["ids"]
    return ids


class Captured:
    """Alerts published on the bus while the context is open."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.resolved: list[Alert] = []

    def fired(self, db: Any = None, alert: Alert | None = None, **_: Any) -> None:
        if alert is not None and alert.source == "monitor":
            self.alerts.append(alert)

    def cleared(self, db: Any = None, alert: Alert | None = None, **_: Any) -> None:
        if alert is not None and alert.source == "monitor":
            self.resolved.append(alert)

    @property
    def keys(self) -> set[str]:
        return {a.dedup_key for a in self.alerts}

    def of(self, key: str) -> list[Alert]:
        return [a for a in self.alerts if a.dedup_key == key]


@contextmanager
def capture(bus: EventBus) -> Iterator[Captured]:
    """Monitor alerts published on `bus` (a running app's: fl.db.bus) while the block runs."""
    cap = Captured()
    bus.subscribe("alert.fired", cap.fired)
    bus.subscribe("alert.resolved", cap.cleared)
    try:
        yield cap
    finally:
        bus.unsubscribe("alert.fired", cap.fired)
        bus.unsubscribe("alert.resolved", cap.cleared)
