"""Group commit for ingest (native calls and OTLP exports): requests that arrive while a group is
being stored wait for the next one, and their calls are stored together (one transaction, one
commit, one "calls.ingested"), each request answered with its own share of the outcome. Under
light load a request is stored alone at once (no timer, no added wait); under many small
requests (one call per request, as most SDKs send) the commits per second stay few and each one
carries many calls. Nothing commits per request.

A group runs in the group's own thread, started when a request finds none and ending after
`IDLE_EXIT` seconds with nothing to do (under steady traffic one thread serves every group: no
thread start per group); a waiting request holds no thread (`submit` gives a future; `answer`, for
the event loop, an asyncio future: a group's answers reach each loop in one wake-up, not one per
request).
The group's work: each request's body parsed and validated, the privacy pass and encryption of
the group's calls (`prepare_group`: pure CPU, no state), then the detectors, the write and the
events (`after`: "calls.ingested" to the monitors). Requests are answered at the commit when the
traffic is concurrent (others share the group or wait behind it, or did so in the last
`after_every` seconds), so an answer does not wait for the monitors and alerts of every call in its
group; a request alone after a quiet spell (a client sending one request at a time) is answered
after them, so its client sees their effects next. Under concurrent traffic `after` runs once for
all the groups committed within `after_every` seconds (at most `max_calls` calls): under one call
per request the monitors, alerts and incident updates cost a few transactions whatever the number
of calls (~3 ms of CPU on SQLite with a monitor firing), and ran once per group of a few calls they
were most of the CPU of a call. Nothing is lost meanwhile (the calls are committed with their
outbox entry), and the thread never ends with an `after` owed: waiting for requests, it runs what
is owed once `after_every` has passed since the first commit owed.
With `offload` (`ingest.prepare_process: true`: gateway.prepare's Helper, made in
fireline.wiring) the first part runs in a helper process, off the serving process's GIL, started
by the first group of several requests (its first answers come while it starts, prepared here),
and the next group is prepared there while one is written here (two groups in flight at most).
Measured on the shared 2-core machine, that costs more CPU in all (pickling, a second process)
than it frees, so it is off by default (docs/scaling.md).

Admission (calls.admission): with `max_wait`, a request that finds the oldest queued one waiting
longer than that is refused at once (`Overloaded`, 503 with Retry-After): requests do not pile up
behind a held-up commit past what clients' timeouts allow.

A body that does not parse fails its own request only (its 4xx); a group whose write fails fails
every request in it (nothing of it is committed: one transaction), and the requests after it are
tried again as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from prometheus_client import Histogram
from ulid import ULID

from fireline.calls.admission import Admission
from fireline.calls.schemas import CallIn
from fireline.calls.service import IngestOutcome, PreparedBatch, prepare_batch
from fireline.calls.shares import split
from fireline.db import utcnow
from fireline.metrics import REGISTRY

Store = Callable[[PreparedBatch], IngestOutcome]
After = Callable[[IngestOutcome], None]
Parse = Callable[[Any], list[CallIn]]
Prepared = tuple[list[list[str] | Exception], PreparedBatch]  # each request's ids (or its error), the group's calls
T = TypeVar("T")
log = logging.getLogger("fireline.ingest.group")

GROUP_CALLS = Histogram("fireline_ingest_group_calls", "Calls per group commit", ["source"], registry=REGISTRY,
                        buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
AFTER_EVERY = 0.05  # s: under load, what follows the commits of back-to-back groups runs at least this often
IDLE_EXIT = 1.0  # s: the group's thread ends after this long with no request (the next one starts another)
GROUP_WAIT = Histogram("fireline_ingest_group_wait_seconds", "From a request's arrival to its group's commit",
                       ["source"], registry=REGISTRY,
                       buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


class Offload(Protocol):
    """Runs a module-level function in another process; None while that process is still starting."""

    def call(self, fn: Callable[..., T], *args: Any) -> T | None: ...


@dataclass(eq=False)
class _Waiter:
    body: Any
    parse: Parse
    arrived: float = field(default_factory=time.monotonic)
    ids: list[str] = field(default_factory=list)
    future: Future[IngestOutcome] | asyncio.Future[IngestOutcome] = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None  # set: `future` is that loop's, settled on it


def prepare_group(items: list[tuple[Parse, Any]], now: datetime) -> Prepared:
    """Each request's body parsed (its ids, given one if it has none, or its own error), then the
    privacy pass and encryption of all their calls: pure CPU without state, run in the helper
    process (or the group's thread). The errors travel back as they were raised (FirelineError
    pickles with its message and details)."""
    shares: list[list[str] | Exception] = []
    calls: list[CallIn] = []
    for parse, body in items:
        try:
            mine = parse(body)
        except Exception as exc:  # this request's own 4xx
            shares.append(exc)
            continue
        for call in mine:  # ids now, so each request finds its own calls in the group's outcome
            if call.id is None:
                call.id = str(ULID())
        shares.append([str(c.id) for c in mine])
        calls += mine
    return shares, prepare_batch(calls, now)


def _local(parse: Parse) -> bool:
    """A parse that cannot travel to the helper (a closure: OTLP's reads the database too)."""
    return "<locals>" in getattr(parse, "__qualname__", "<locals>") or getattr(parse, "__name__", "") == "<lambda>"


class GroupCommit:
    def __init__(self, store: Store, parse: Parse = list, max_calls: int = 1000, *, offload: Offload | None = None,
                 source: str = "api", max_bytes: int = 2 * 1024 * 1024, after: After | None = None,
                 after_every: float = AFTER_EVERY, max_wait: float | None = None) -> None:
        self.admission = Admission(max_wait, source)
        self.store, self.parse, self.offload, self.source, self.after = store, parse, offload, source, after
        self.max_calls, self.max_bytes, self.after_every = max_calls, max_bytes, after_every
        self._owed: list[IngestOutcome] = []  # committed groups whose `after` waits
        self._owed_since = 0.0
        self._company = -1e9  # monotonic time of the last commit whose group had company (several, or waiting)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # a request arrived (the thread waits on it)
        self._queue: deque[_Waiter] = deque()
        self._running = False
        self._loaded = False  # a group of several requests was seen: prepare in the helper from now on
        self._answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[IngestOutcome], Any, bool]]] = {}
        self.groups = 0  # groups stored (for the tests and the bench)
        self.takes = 0  # groups taken: a parse can tell the exports of one group from the next's
        self.offloaded = 0  # of which prepared in the helper process

    def submit(self, body: Any, parse: Parse | None = None) -> Future[IngestOutcome]:
        """Queue what `parse(body)` gives (by default the group's parse; `body` is the list of calls
        itself when the group has none); the future holds this request's share of its group's
        outcome, or its error. A module-level `parse` runs where the group is prepared (the helper
        process); a closure runs in the group's thread, before its group is prepared (OTLP decodes
        and maps its export there)."""
        me = _Waiter(body, parse or self.parse)
        self._enqueue(me)
        return me.future  # type: ignore[return-value]

    async def answer(self, body: Any, parse: Parse | None = None) -> IngestOutcome:
        """`submit` for a coroutine on an event loop: awaited without a thread, the group's answers
        for this loop handed over in one wake-up of the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestOutcome] = loop.create_future()
        self._enqueue(_Waiter(body, parse or self.parse, future=future, loop=loop))
        return await future

    def ingest(self, body: Any, parse: Parse | None = None) -> IngestOutcome:
        """`submit`, waiting in this thread for the outcome."""
        return self.submit(body, parse).result()

    def _enqueue(self, me: _Waiter) -> None:
        with self._lock:
            self.admission.check(self._queue[0].arrived if self._queue else None)  # Overloaded: nothing queued
            self._queue.append(me)
            start = not self._running
            self._running = True
            if not start:
                self._wake.notify()
        if start:
            try:
                threading.Thread(target=self._drain, name="fireline-ingest-group", daemon=True).start()
            except BaseException:  # no thread (interpreter shutting down): the next request tries again
                with self._lock:
                    self._queue.remove(me)
                    self._running = False
                raise

    def _drain(self) -> None:
        ahead: tuple[list[_Waiter], Future[Prepared]] | None = None
        try:
            while True:
                if ahead is None:
                    if not self._await_requests():
                        return
                    ahead = self._prepare_next()
                    if ahead is None:
                        continue
                group, prepared = ahead
                ahead = None
                try:
                    ready: Prepared | BaseException = prepared.result()
                except BaseException as exc:
                    ready = exc
                # The next group is prepared (in the helper) while this one is written here.
                ahead = self._prepare_next(wait=False) if self.offload is not None else None
                self._store(group, ready)
        except BaseException:  # never left marked running: the next request starts a thread again
            self._after_owed()
            if ahead is not None:
                for w in ahead[0]:
                    self._settle(w, error=RuntimeError("the ingest group stopped; retry"))
            self._hand_over()
            with self._lock:
                self._running = False
            raise

    def _await_requests(self) -> bool:
        """Wait for a request (True), running what is owed to the commits so far once it is due
        (`after_every` after the first of them, at once when the traffic is not concurrent); False
        (the thread marked idle) after `IDLE_EXIT` seconds with nothing owed and no request."""
        idle_since: float | None = None
        while True:
            with self._lock:
                if self._queue:
                    return True
                now = time.monotonic()
                if self._owed:
                    idle_since = None
                    due = self._owed_since + self.after_every if self._concurrent(now) else now
                    if due > now:
                        self._wake.wait(due - now)
                        continue
                else:
                    idle_since = now if idle_since is None else idle_since
                    if now - idle_since >= IDLE_EXIT:
                        self._running = False
                        return False
                    self._wake.wait(IDLE_EXIT - (now - idle_since))
                    continue
            self._after_owed()  # due, nothing waits

    def _concurrent(self, now: float) -> bool:
        return now - self._company < self.after_every

    def _take(self) -> list[_Waiter]:
        """Requests in arrival order, until the group holds about `max_calls` calls or `max_bytes`."""
        group: list[_Waiter] = []
        size = nbytes = 0
        self.takes += 1
        while size < self.max_calls and nbytes < self.max_bytes:
            with self._lock:
                if not self._queue:
                    break
                w = self._queue.popleft()
            if _local(w.parse):
                try:
                    w.body, w.parse = w.parse(w.body), list
                except BaseException as exc:  # this request's own 4xx
                    self._settle(w, error=exc)
                    continue
            group.append(w)
            size += len(w.body) if w.parse is list else 1
            nbytes += len(w.body) if isinstance(w.body, bytes | bytearray) else 0
        self._hand_over()
        return group

    def _prepare_next(self, wait: bool = True) -> tuple[list[_Waiter], Future[Prepared]] | None:
        """The next group taken and its preparation started; None when no request waits."""
        with self._lock:
            if not self._queue:
                return None
        group = self._take()
        prepared: Future[Prepared] = Future()
        items = [(w.parse, w.body) for w in group]
        if self.offload is not None and not wait:
            threading.Thread(target=self._prepare_into, args=(prepared, items), name="fireline-ingest-prepare",
                             daemon=True).start()
        else:
            self._prepare_into(prepared, items)
        return group, prepared

    def _prepare_into(self, into: Future[Prepared], items: list[tuple[Parse, Any]]) -> None:
        now = utcnow()
        done = None
        # The helper is started by the first sign of load (a group of several requests), so a server
        # that only ever sees one request at a time (a test, a quiet deployment) never spawns it.
        self._loaded = self._loaded or len(items) > 1
        if self.offload is not None and items and self._loaded:
            try:
                done = self.offload.call(prepare_group, items, now)
            except BrokenProcessPool:  # it cannot start twice in a row: prepare here from now on
                log.error("ingest: the preparing process keeps failing; preparing calls in the group's thread")
                self.offload = None
            except Exception:  # a result that cannot travel back: prepared here instead
                log.exception("ingest: a group could not be prepared in the helper process; preparing it here")
        self.offloaded += done is not None
        try:
            into.set_result(done if done is not None else prepare_group(items, now))
        except BaseException as exc:
            into.set_exception(exc)

    def _store(self, group: list[_Waiter], prepared: Prepared | BaseException) -> None:
        if isinstance(prepared, BaseException):
            for w in group:
                self._settle(w, error=prepared)
            self._hand_over()
            return
        shares, batch = prepared
        parsed: list[_Waiter] = []
        for w, share in zip(group, shares, strict=True):
            if isinstance(share, Exception):
                self._settle(w, error=share)
            else:
                w.ids = share
                parsed.append(w)
        try:
            outcome = self.store(batch) if batch.ids or batch.dead else IngestOutcome(ids=[], inserted=[],
                                                                                   duplicates=0)
            answers = split(outcome, [w.ids for w in parsed])
        except BaseException as exc:  # nothing of the group is committed (one transaction): all fail
            for w in parsed:
                self._settle(w, error=exc)
            self._hand_over()
            self._after_owed()
        else:
            # Committed: under concurrent traffic (others in the group or waiting, now or lately) they
            # are answered now and the monitors run after; a lone request after a quiet spell is
            # answered once they ran (read-your-alerts).
            done = time.monotonic()
            if len(parsed) > 1 or self._queue:
                self._company = done
            early = self._concurrent(done)
            if not self._owed:
                self._owed_since = done
            self._owed.append(outcome)
            if not early:
                self._after_owed()
            for w, answer in zip(parsed, answers, strict=True):
                GROUP_WAIT.labels(self.source).observe(done - w.arrived)
                self._settle(w, answer)
            self._hand_over()
            # What follows the commits runs once `after_every` passed since the first owed, or once
            # they hold `max_calls` calls; before that, with a later group's (the thread goes on, or
            # waits for requests until it is due).
            if early and (done - self._owed_since >= self.after_every
                          or sum(len(o.inserted) for o in self._owed) >= self.max_calls):
                self._after_owed()
        GROUP_CALLS.labels(self.source).observe(len(batch.ids) + len(batch.dead))
        self.groups += 1

    def _after_owed(self) -> None:
        """What follows the commits owed so far (`after`: "calls.ingested" to the monitors), once for
        all of them. Their calls are committed with their outbox entries whatever happens here: a
        failure is logged and the outbox delivers."""
        owed, self._owed = self._owed, []
        if self.after is None or not owed:
            return
        outcome = owed[0] if len(owed) == 1 else IngestOutcome(
            ids=[i for o in owed for i in o.ids], inserted=[p for o in owed for p in o.inserted],
            duplicates=sum(o.duplicates for o in owed), dead=[d for o in owed for d in o.dead])
        try:
            self.after(outcome)
        except Exception:
            log.exception("ingest: the group's calls are committed, but what follows failed; the outbox delivers it")

    def _settle(self, w: _Waiter, outcome: IngestOutcome | None = None, error: BaseException | None = None) -> None:
        """Answer a waiting request: at once for a thread's future; a loop's is kept for `_hand_over`."""
        if w.loop is None:
            _settle(w.future, outcome, error)  # type: ignore[arg-type]
        else:
            self._answers.setdefault(w.loop, []).append((w.future, error if error is not None else outcome,
                                                         error is not None))  # type: ignore[arg-type]

    def _hand_over(self) -> None:
        """The answers kept for each event loop, handed to it in one call (one wake-up of the loop)."""
        if not self._answers:
            return
        answers, self._answers = self._answers, {}
        for loop, items in answers.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers any more
                loop.call_soon_threadsafe(_answer_all, items)


def _answer_all(items: list[tuple[asyncio.Future[IngestOutcome], Any, bool]]) -> None:
    """On the loop: each request's outcome or error; one that went away (cancelled) is skipped."""
    for future, value, failed in items:
        if not future.done():
            if failed:
                future.set_exception(value)
            else:
                future.set_result(value)


def _settle(future: Future[IngestOutcome], outcome: IngestOutcome | None = None,
            error: BaseException | None = None) -> None:
    """Answer a waiting request; one that went away meanwhile (its future cancelled) is skipped."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]
    except InvalidStateError:
        pass
