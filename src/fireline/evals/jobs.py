"""Background jobs (replays, server-side eval runs): a small thread pool per server, a stop flag
per job, and progress written to the job's row at most twice a second.

A job's failure is never swallowed: its row says `failed` with the error, and it is logged.
Jobs that a restart interrupted are marked failed at start-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("fireline.jobs")


class Jobs:
    def __init__(self, workers: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fireline-job")
        self.stops: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def submit(self, job_id: str, fn: Callable[[threading.Event], None]) -> None:
        stop = threading.Event()
        with self.lock:
            self.stops[job_id] = stop

        def run() -> None:
            try:
                fn(stop)
            except Exception:
                log.exception("job %s failed", job_id)
            finally:
                with self.lock:
                    self.stops.pop(job_id, None)

        self.pool.submit(run)

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            stop = self.stops.get(job_id)
        if stop is None:
            return False
        stop.set()
        return True

    def running(self, job_id: str) -> bool:
        with self.lock:
            return job_id in self.stops

    def shutdown(self) -> None:
        with self.lock:
            for stop in self.stops.values():
                stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


class Throttle:
    """Calls `fn(done, total)` at most every `every` seconds, and always for the last item."""

    def __init__(self, fn: Callable[[int, int], None], every: float = 0.5) -> None:
        self.fn, self.every, self.last = fn, every, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self.last >= self.every:
            self.last = now
            try:
                self.fn(done, total)
            except Exception:  # progress is advisory: a failed write must not end the job
                log.warning("progress update failed", exc_info=True)
