"""Preparing gateway calls for storage in a helper process, off the serving process's GIL.

Most of what storing a call costs is pure CPU with no state: opening the spool line, building
the call record, the privacy pass, the encryption and the stateless detectors (detect.screen:
every detector but the learned tool-argument baseline, the quality profile, the policies). In
the writer thread it held the GIL the event loop needs, and each request waited for it. One
helper process (`spawn`, lower CPU priority) does that part; the writer thread keeps what has
state or touches the database (tool-argument baseline, session limits, the write, the events),
so detection, monitors and limits see the same calls as before. The canary detector reads the
token list the serving process sends with each batch. The spool stays the durable copy: lines
are marked stored only after the write, and a helper that dies is replaced and the same lines
are prepared again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import Counter
from pydantic import ValidationError

from fireline.calls import dead_letters, service
from fireline.calls.pricing import price_table
from fireline.config import Config, get_secret
from fireline.detect.screen import StatelessPass
from fireline.metrics import REGISTRY
from fireline.validation import clean_json

log = logging.getLogger("fireline.gateway.prepare")
T = TypeVar("T")
LATE = Counter("fireline_gateway_prepare_late_total",
               "Batches the helper process had not prepared in time (gateway.prepare_late_s), prepared by the "
               "writer thread instead", registry=REGISTRY)


@dataclass(slots=True)
class Prepared:
    """A batch ready for `service.ingest_prepared`, and how many lines could not be opened."""

    batch: service.PreparedBatch
    damaged: int = 0
    statuses: list[str] = field(default_factory=list)


def prepare(records: list[bytes], config: Config, prices: dict[str, tuple[float, float]], now: datetime) -> Prepared:
    """Spool lines to prepared calls: a damaged line is counted and skipped, a record that cannot be
    made a call is a dead letter (stage "prepare"), as in the writer thread."""
    from fireline.gateway.writer import build_call, decode

    calls, dead, damaged = [], [], 0
    for line in records:
        try:
            pending = decode(line)
        except ValueError:  # a damaged line (power loss), or sealed with another key: nothing to store
            damaged += 1
            continue
        try:
            calls.append(build_call(pending, config, prices))
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            dead.append(dead_letters.Dead(pending.get("id"), dead_letters.failure_reason(exc), "prepare",
                                          clean_json(pending)))
    batch = service.prepare_batch(calls, now)
    batch.dead[:0] = dead
    return Prepared(batch, damaged, [p.row["status"] for p in batch.calls])


# ---- the helper process ----

_state: dict[str, Any] = {}


PRIORITIES = ("idle", "low", "normal")


def check_priority(value: str, where: str) -> str:
    """`idle`, `low` or `normal`; ValueError naming the key otherwise."""
    if value not in PRIORITIES:
        raise ValueError(f"{where} must be one of {', '.join(PRIORITIES)}, not {value!r}")
    return value


def lower_priority(priority: str, *, started: bool) -> None:
    """This process's CPU priority against the serving process's. `idle` (Linux SCHED_IDLE): it runs
    on the CPU time the serving processes leave, and a request waking the server takes its core
    at once (with a nice value the scheduler may finish the helper's slice first: milliseconds of
    added latency whenever both want the same core). `low`: nice 5. Loading (`started` False) runs
    at nice 5 for both, so a busy machine cannot hold the start back; where SCHED_IDLE is not
    available, `idle` is nice 19."""
    if not started:
        if priority in ("low", "idle"):
            os.nice(5)
    elif priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):
            os.nice(14)


def _start(config: Config, secret: str, priority: str, parent: int, screen: bool = False) -> None:
    """The helper's initializer: the parent's config and key (tests and `serve` may have set them
    in memory, not in the environment), lower priority than the serving process, word lists and
    (with `screen`) the stateless detectors loaded, and a watch that ends the helper when the
    server is gone (kill -9 leaves no orphan behind)."""
    from fireline import config as config_module
    from fireline.calls import privacy
    from fireline.pii import gazetteer

    for sig in (signal.SIGINT, signal.SIGTERM):  # a stop reaches the server, which stops the helper
        signal.signal(sig, signal.SIG_IGN)
    os.environ["FIRELINE_SECRET"] = secret
    config_module.reset()
    privacy.reset_keys()
    lower_priority(priority, started=False)
    _state.update(config=config, prices=price_table(config))
    threading.Thread(target=_watch, args=(parent,), name="fireline-prepare-watch", daemon=True).start()
    gazetteer.get()
    if screen:
        _state["screen"] = StatelessPass.build(config, lambda: _state.get("canaries") or {})
    lower_priority(priority, started=True)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)  # the server died without stopping us: nothing of ours is lost (the spool has it all)


def _ready() -> bool:
    return True


@dataclass(slots=True)
class Shipped:
    """A prepared batch on its way back: each call pickled on its own, so the serving process opens
    them one by one (one `pickle.loads` of a whole batch holds the GIL for ~20 ms per 500 calls,
    mostly inside C, where the switch interval cannot take it back)."""

    calls: list[bytes]
    ids: list[str]
    dead: list[dead_letters.Dead]
    damaged: int
    statuses: list[str]

    def opened(self) -> Prepared:
        calls = [pickle.loads(c) for c in self.calls]  # a loop: other threads get the GIL between calls
        return Prepared(service.PreparedBatch(calls, self.ids, self.dead), self.damaged, self.statuses)


def _prepare_in_helper(records: list[bytes], now: datetime, canaries: dict[str, str] | None = None) -> Shipped:
    prepared = prepare(records, _state["config"], _state["prices"], now)
    if canaries is not None and "screen" in _state:
        _state["canaries"] = canaries  # the serving process's token list as the batch was taken
        _state["screen"].run(prepared.batch.calls)
    for p in prepared.batch.calls:
        p.redacted = {}  # stored as the row's JSON ("content"); nothing after preparing reads the dict
    batch = prepared.batch
    return Shipped([pickle.dumps(p, pickle.HIGHEST_PROTOCOL) for p in batch.calls], batch.ids, batch.dead,
                   prepared.damaged, prepared.statuses)


class Helper:
    """The helper process seen from the writer thread: `run` prepares a batch there, restarting a
    helper that died (the batch is prepared again; nothing was marked stored)."""

    def __init__(self, config: Config, priority: str = "idle", screen: bool = False,
                 late_s: float | None = None) -> None:
        self.config, self.priority, self.screen = config, check_priority(priority, "gateway.prepare_priority"), screen
        # A helper at idle priority gets no CPU while the machine's cores are busy: after `late_s` its
        # caller does the work itself, so detection waits at most about that long for a core.
        self.late_s = late_s
        self.pool: ProcessPoolExecutor | None = None
        self._warm: Future[bool] | None = None  # the started helper's first answer
        self._late: Future[Any] | None = None  # a job it was late with, still running there
        self._failed_starts = 0

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                            initargs=(self.config, get_secret().decode(), self.priority,
                                                      os.getpid(), self.screen))
        return self.pool

    def run(self, records: list[bytes], now: datetime, canaries: dict[str, str] | None = None) -> Prepared | None:
        """The batch prepared in the helper, and screened (detect.screen) when `canaries` (the canary
        detector's token list) is given and the helper was made with `screen`; None while the helper
        is still starting (a spawn takes a second or more): the caller prepares it, so the first
        calls after a start are not kept waiting (their detection included)."""
        shipped = self.call(_prepare_in_helper, records, now, canaries)
        return shipped.opened() if shipped is not None else None

    def call(self, fn: Callable[..., T], *args: Any) -> T | None:
        """`fn(*args)` in the helper (a module-level function, picklable arguments and result), restarting
        a helper that died (it runs again there); None while the helper is still starting, and None
        when it has not answered within `late_s` or is still on a job it was late with (the caller
        does the work itself; the late job's result is dropped)."""
        if self._warm is None:
            self._warm = self._pool().submit(_ready)
        if not self._warm.done():
            return None
        if self._warm.exception() is not None:  # it died while starting: start another, once
            self.close()
            self._failed_starts += 1
            if self._failed_starts >= 2:
                raise BrokenProcessPool("the preparing process did not start twice in a row")
            self._warm = self._pool().submit(_ready)
            return None
        self._failed_starts = 0
        if self._late is not None:
            if not self._late.done():
                return None  # still on the job it was late with: the caller does this one too
            self._late = None
        try:
            return self._answer(self._pool().submit(fn, *args))
        except BrokenProcessPool:
            log.error("the preparing process died; starting another and preparing the batch again")
            self.close()
            return self._answer(self._pool().submit(fn, *args))

    def _answer(self, job: Future[T]) -> T | None:
        try:
            return job.result(timeout=self.late_s)
        except TimeoutError:
            self._late = job
            LATE.inc()
            return None

    def close(self) -> None:
        self._warm = self._late = None
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
