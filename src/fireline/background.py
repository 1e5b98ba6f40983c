"""Background loops that survive: a failing step is logged (ids and place, never content),
counted (`fireline_background_failures_total{task}`), backed off exponentially and retried;
the loop only ends when the app shuts down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fireline.events import where
from fireline.metrics import BACKGROUND_FAILURES

log = logging.getLogger("fireline.background")


class Backoff:
    """Consecutive failures of one task: the next delay, and whether to log this one."""

    def __init__(self, base: float, cap: float = 60.0) -> None:
        self.base = max(base, 0.05)
        self.cap = max(cap, self.base)
        self.failures = 0
        self._logged_at = 0.0

    def failed(self, name: str, exc: BaseException) -> float:
        self.failures += 1
        BACKGROUND_FAILURES.labels(name).inc()
        delay = min(self.cap, self.base * 2 ** min(self.failures - 1, 16))
        now = time.monotonic()
        # The first failure of a run, then at most one line a minute while it keeps failing.
        if self.failures == 1 or now - self._logged_at >= 60:
            self._logged_at = now
            log.error("background task %s failed (%d in a row): %s at %s; retrying in %.1f s", name,
                      self.failures, type(exc).__name__, where(exc), delay)
            log.debug("background task %s traceback", name, exc_info=exc)
        return delay

    def succeeded(self, name: str) -> None:
        if self.failures:
            log.warning("background task %s recovered after %d failures", name, self.failures)
        self.failures = 0


async def every(name: str, step: Callable[[], Awaitable[Any]], interval: float, *, cap: float = 60.0,
                first_delay: float | None = None, only_if: Callable[[], bool] | None = None) -> None:
    """Run `step` every `interval` seconds forever; failures back off up to `cap` seconds.
    `only_if`: the step runs only while it answers True (the leader's loops, fireline.leader)."""
    backoff = Backoff(interval, cap)
    await asyncio.sleep(interval if first_delay is None else first_delay)
    while True:
        if only_if is not None and not only_if():
            await asyncio.sleep(interval)
            continue
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await asyncio.sleep(backoff.failed(name, exc))
            continue
        backoff.succeeded(name)
        await asyncio.sleep(interval)


def in_thread(fn: Callable[..., Any], *args: Any) -> Callable[[], Awaitable[Any]]:
    """A step running a blocking function off the event loop."""

    async def step() -> Any:
        return await asyncio.to_thread(fn, *args)

    return step


def spawn(app: Any, coro: Awaitable[None], name: str) -> None:
    """Start a background task that is cancelled at shutdown and whose failure is logged."""

    async def guarded() -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            BACKGROUND_FAILURES.labels(name).inc()
            log.error("background task %s stopped: %s at %s", name, type(exc).__name__, where(exc))
            log.debug("background task %s traceback", name, exc_info=exc)

    app.state.tasks.append(asyncio.create_task(guarded(), name=name))
