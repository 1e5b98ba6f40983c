"""Admission to an ingest group commit: past a bound on how long requests already wait, new ones are
refused at once (503 with Retry-After) instead of queueing behind a backlog they would time out in.

A group commit (calls.group) answers each request once its group is committed. When requests
arrive faster than the groups are stored, the queue grows without bound: every request then waits
longer than the one before, a client's timeout (10 s for OpenTelemetry's exporters) expires while
the work it asked for is still queued, and its retry adds the same work again. So a request that
finds the oldest queued request already waiting longer than `ingest.max_wait_s` (default 5 s) is
answered 503 with Retry-After and nothing of it is parsed or stored; exporters and SDKs retry 503
after Retry-After (OTLP/HTTP's rule), and re-sending is idempotent by call id. The requests
already admitted wait as before (a held commit holds them until it ends, or until the database's
statement timeout fails it with 503): the bound caps how many pile up behind a stall and answers
the rest at once. OTLP logs and metrics are stored one export at a time in a worker thread, not
in a group: `BoundedThreads` applies the same bound to the exports waiting for their turn.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
from prometheus_client import Counter

from fireline.config import Config
from fireline.errors import FirelineError
from fireline.metrics import REGISTRY

T = TypeVar("T")
MAX_WAIT_S = 5.0  # default ingest.max_wait_s: half of OpenTelemetry exporters' 10 s request timeout

SHED = Counter("fireline_ingest_shed_total",
               "Ingest requests refused with 503 because earlier ones had waited past ingest.max_wait_s",
               ["source"], registry=REGISTRY)
for _source in ("api", "otlp"):  # the series exist at 0 from the start, so rate() alerts see the first one
    SHED.labels(_source)


def max_wait(config: Config) -> float:
    """`ingest.max_wait_s` (checked positive at start by the ingest part)."""
    return float((config.section("ingest") or {}).get("max_wait_s", MAX_WAIT_S))


class Overloaded(FirelineError):
    """Ingest is behind: the request was refused before anything of it was read (503, Retry-After)."""

    status = 503

    def __init__(self, waited: float, max_wait: float, retry_after: int) -> None:
        super().__init__(f"ingest is behind: queued requests have waited {waited:.1f} s (ingest.max_wait_s is "
                         f"{max_wait:g}); nothing of this request was stored; retry after {retry_after} s",
                         retry_after=retry_after)
        self.retry_after = retry_after


class Admission:
    """The bound one group commit applies; max_wait None admits everything (the queue is unbounded)."""

    def __init__(self, max_wait: float | None, source: str, clock: Callable[[], float] = time.monotonic) -> None:
        if max_wait is not None and not max_wait > 0:
            raise ValueError("max_wait must be positive")
        self.max_wait, self.source, self.clock = max_wait, source, clock
        self.shed = 0

    def check(self, oldest_arrival: float | None) -> None:
        """Raise Overloaded when the oldest queued request (its arrival on the monotonic clock, None for
        an empty queue) has waited past the bound. Retry-After is how far past it, at least 1 s."""
        if self.max_wait is None or oldest_arrival is None:
            return
        waited = self.clock() - oldest_arrival
        if waited <= self.max_wait:
            return
        self.shed += 1
        SHED.labels(self.source).inc()
        raise Overloaded(waited, self.max_wait, max(1, math.ceil(waited - self.max_wait)))


class BoundedThreads:
    """Work that waits its turn for a worker thread (an anyio CapacityLimiter: OTLP logs and metrics,
    one export at a time), under the same bound as a group commit's queue: an export that finds the
    oldest one still waiting for its turn past the bound is refused (Overloaded) before it waits."""

    def __init__(self, limiter: anyio.CapacityLimiter, admission: Admission) -> None:
        self.limiter, self.admission = limiter, admission
        self._lock = threading.Lock()
        self._waiting: dict[int, float] = {}  # arrival of each export not yet started, oldest first
        self._next = 0

    def waiting(self) -> int:
        return len(self._waiting)

    def oldest(self) -> float | None:
        with self._lock:
            return next(iter(self._waiting.values()), None)

    async def run(self, fn: Callable[[], T]) -> T:
        """fn() in a worker thread once the limiter lets it; Overloaded (nothing run) past the bound."""
        self.admission.check(self.oldest())
        with self._lock:
            token, self._next = self._next, self._next + 1
            self._waiting[token] = self.admission.clock()

        def started() -> T:
            with self._lock:
                self._waiting.pop(token, None)
            return fn()

        try:
            return await anyio.to_thread.run_sync(started, limiter=self.limiter)
        finally:  # cancelled while waiting (the client went away): no longer waiting either
            with self._lock:
                self._waiting.pop(token, None)


__all__ = ["MAX_WAIT_S", "Admission", "BoundedThreads", "Overloaded", "max_wait"]
