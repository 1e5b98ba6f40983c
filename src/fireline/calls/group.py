"""Group commit for the native ingest API: requests that arrive while a batch is being stored wait
for the next one, and their calls are stored together (one transaction, one commit, one
"calls.ingested"), each request answered with its own share of the outcome. Under light load a
request is stored alone at once (no timer, no added wait); under many small requests (one call
per request, as most SDKs send) the commits per second stay few and each one carries many calls.

All the CPU work (parsing each request's body, then the batch's privacy pass, detectors and
write) runs in one thread at a time, as before (threads competing for the GIL cost more than they
overlap: fireline.http `ingest_limiter`); the request that stores a group hands the next group to
the first request waiting, so nobody serves more than one group. A body that does not parse fails
its own request only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    finished: bool = False
    outcome: IngestOutcome | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, store: Store, parse: Parse = list, max_calls: int = 1000) -> None:
        self.store, self.parse = store, parse
        self.max_calls = max_calls
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._running = False
        self.groups = 0  # batches stored (for the tests and the bench)

    def ingest(self, body: Any, parse: Parse | None = None) -> IngestOutcome:
        """Store what `parse(body)` gives (by default the group's parse; `body` is the list of calls
        itself when the group has none). A request's own `parse` runs in the thread that stores the
        group, before the group is stored (OTLP decodes and maps its export there)."""
        me = _Waiter(body, parse or self.parse)
        with self._lock:
            self._queue.append(me)
            if not self._running:
                self._running = me.lead = True
        while not me.finished:
            if me.lead:
                self._store_next()
            else:
                me.wake.wait()
                me.wake.clear()
        if me.error is not None:
            raise me.error
        assert me.outcome is not None
        return me.outcome

    def _store_next(self) -> None:
        group: list[_Waiter] = []
        parsed: list[_Waiter] = []
        size = 0
        while size < self.max_calls:  # requests in arrival order until the group holds max_calls
            with self._lock:
                if not self._queue:
                    break
                w = self._queue.pop(0)
            group.append(w)
            try:
                w.calls = w.parse(w.body)
            except Exception as exc:  # this request's own 4xx
                w.error = exc
                continue
            for call in w.calls:  # ids now, so each request finds its own calls in the group's outcome
                if call.id is None:
                    call.id = str(ULID())
            parsed.append(w)
            size += len(w.calls)
        calls = [c for w in parsed for c in w.calls]
        try:
            outcome = self.store(calls) if calls else IngestOutcome(ids=[], inserted=[], duplicates=0)
        except BaseException as exc:
            for w in parsed:
                w.error = exc
        else:
            if parsed:
                for w, share in zip(parsed, split(outcome, [w.calls for w in parsed]), strict=True):
                    w.outcome = share
        self.groups += 1
        with self._lock:
            for w in group:
                w.finished, w.lead = True, False
                w.wake.set()
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].wake.set()
            else:
                self._running = False


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
