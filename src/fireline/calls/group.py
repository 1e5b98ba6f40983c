"""Group commit for the native ingest API: requests that arrive while a batch is being stored wait
for the next one, and their calls are stored together (one transaction, one commit, one
"calls.ingested"), each request answered with its own share of the outcome. Under light load a
request is stored alone at once (no timer, no added wait); under many small requests (one call
per request, as most SDKs send) the commits per second stay few and each one carries many calls.

All the CPU work (parsing each request's body, then the batch's privacy pass, detectors and
write) runs in one thread at a time, as before (threads competing for the GIL cost more than they
overlap: fireline.http `ingest_limiter`): the group's own thread, started when a request finds it
idle and ending when no request waits. A waiting request holds no thread (`submit` gives a future
the event loop awaits), so a burst of one-call requests makes groups of up to `max_calls` instead
of one per request thread. A body that does not parse fails its own request only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from ulid import ULID

from fireline.calls import dead_letters
from fireline.calls.schemas import CallIn
from fireline.calls.service import IngestOutcome, PreparedCall

Store = Callable[[list[CallIn]], IngestOutcome]
Parse = Callable[[Any], list[CallIn]]


@dataclass(eq=False)
class _Waiter:
    body: Any
    parse: Parse
    calls: list[CallIn] = field(default_factory=list)
    future: Future[IngestOutcome] = field(default_factory=Future)


class GroupCommit:
    def __init__(self, store: Store, parse: Parse = list, max_calls: int = 1000) -> None:
        self.store, self.parse = store, parse
        self.max_calls = max_calls
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()
        self._running = False
        self.groups = 0  # batches stored (for the tests and the bench)

    def submit(self, body: Any, parse: Parse | None = None) -> Future[IngestOutcome]:
        """Queue what `parse(body)` gives (by default the group's parse; `body` is the list of calls
        itself when the group has none); the future holds this request's share of its group's
        outcome, or its error. A request's own `parse` runs in the group's thread, before the
        group is stored (OTLP decodes and maps its export there)."""
        me = _Waiter(body, parse or self.parse)
        with self._lock:
            self._queue.append(me)
            start = not self._running
            self._running = True
        if start:
            try:
                threading.Thread(target=self._drain, name="fireline-ingest-group", daemon=True).start()
            except BaseException:  # no thread (interpreter shutting down): the next request tries again
                with self._lock:
                    self._queue.remove(me)
                    self._running = False
                raise
        return me.future

    def ingest(self, body: Any, parse: Parse | None = None) -> IngestOutcome:
        """`submit`, waiting in this thread for the outcome."""
        return self.submit(body, parse).result()

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._running = False
                        return
                self._store_next()
        except BaseException:  # never left marked running: the next request starts a thread again
            with self._lock:
                self._running = False
            raise

    def _store_next(self) -> None:
        parsed: list[_Waiter] = []
        size = 0
        while size < self.max_calls:  # requests in arrival order until the group holds max_calls
            with self._lock:
                if not self._queue:
                    break
                w = self._queue.popleft()
            try:
                w.calls = w.parse(w.body)
            except BaseException as exc:  # this request's own 4xx
                _settle(w.future, error=exc)
                continue
            for call in w.calls:  # ids now, so each request finds its own calls in the group's outcome
                if call.id is None:
                    call.id = str(ULID())
            parsed.append(w)
            size += len(w.calls)
        calls = [c for w in parsed for c in w.calls]
        try:
            outcome = self.store(calls) if calls else IngestOutcome(ids=[], inserted=[], duplicates=0)
            shares = split(outcome, [w.calls for w in parsed])
        except BaseException as exc:
            for w in parsed:
                _settle(w.future, error=exc)
        else:
            for w, share in zip(parsed, shares, strict=True):
                _settle(w.future, share)
        self.groups += 1


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


def split(outcome: IngestOutcome, requests: list[list[CallIn]]) -> list[IngestOutcome]:
    """Each request's share of a group's outcome: what `ingest` would have answered for it alone
    (a call id sent by two requests of one group is the first one's; the second sees a duplicate)."""
    inserted: dict[str, PreparedCall] = {p.id: p for p in outcome.inserted}
    dead: dict[str, list[dead_letters.Dead]] = {}
    for d in outcome.dead:
        dead.setdefault(str(d.call_id), []).append(d)
    unprepared = {d.call_id for d in outcome.dead if d.stage == "prepare"}
    shares = []
    for calls in requests:
        ids = [str(c.id) for c in calls if c.id not in unprepared]
        mine = [inserted.pop(i) for i in dict.fromkeys(ids) if i in inserted]
        my_dead = [d for i in dict.fromkeys(str(c.id) for c in calls) for d in dead.pop(i, [])]
        refused = {d.call_id for d in my_dead}
        duplicates = len(ids) - sum(1 for i in ids if i in refused) - len(mine)
        shares.append(IngestOutcome(ids=ids, inserted=mine, duplicates=duplicates, dead=my_dead))
    return shares
