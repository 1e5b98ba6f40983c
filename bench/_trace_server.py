"""`fireline serve` with timestamps on the ingest path, for bench/ingest_trace.py (not used by Fireline).

Wraps, without changing what they do: the raw ASGI dispatch (a request's arrival and its answer
sent), GroupCommit (a request queued, its group taken, prepared, stored, its future settled) and
calls.service (detectors, the write, "calls.ingested" to the monitors). Also records every GC pass
and every event-loop stall of more than 5 ms. Written as JSON to $FIRELINE_TRACE_OUT at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import gc
import os
import signal
import sys
import threading
import time
from typing import Any

import orjson

from fireline import http
from fireline.calls import group as groupmod
from fireline.calls import service

now = time.monotonic
REQUESTS: list[dict[str, Any]] = []
GROUPS: list[dict[str, Any]] = []
GCS: list[tuple[float, float, int, str]] = []
STALLS: list[tuple[float, float]] = []
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("trace", default=None)
_by_future: dict[int, dict[str, Any]] = {}
_group_now = threading.local()
_lag_started = False


async def _lag() -> None:
    while True:
        t = now()
        await asyncio.sleep(0.002)
        late = now() - t - 0.002
        if late > 0.005:
            STALLS.append((t + 0.002, late))


_answer = http.FastRoutes._answer


async def answer(handler: Any, scope: Any, receive: Any, send: Any) -> None:
    global _lag_started
    if not _lag_started:
        _lag_started = True
        asyncio.get_running_loop().create_task(_lag())
    rec: dict[str, Any] = {"path": scope["path"], "entry": now()}
    _current.set(rec)

    async def timed_send(message: Any) -> None:
        if message["type"] == "http.response.start":
            rec["answered"] = now()
            rec["status"] = message["status"]
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            rec["sent"] = now()

    await _answer(handler, scope, receive, timed_send)
    REQUESTS.append(rec)


http.FastRoutes._answer = staticmethod(answer)  # type: ignore[method-assign]

_enqueue = groupmod.GroupCommit._enqueue


def enqueue(self: Any, me: Any) -> None:
    """A request queued, by `submit` (a thread's future) or `answer` (the event loop's)."""
    rec = _current.get()
    if rec is not None:
        rec["submit"] = now()
        _by_future[id(me.future)] = rec
        me.future.add_done_callback(lambda f: _by_future.pop(id(f), None))
    _enqueue(self, me)


groupmod.GroupCommit._enqueue = enqueue  # type: ignore[method-assign]

_take = groupmod.GroupCommit._take


def sched() -> tuple[float, float]:
    """This thread's seconds on a CPU and runnable waiting for one (the machine's other load)."""
    with open("/proc/thread-self/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


def take(self: Any) -> Any:
    t0 = now()
    group = _take(self)
    g = {"source": self.source, "take": t0, "taken": now(), "requests": len(group),
         "cpu0": time.thread_time(), "sched0": sched()}
    GROUPS.append(g)
    _group_now.g = g
    for w in group:
        rec = _by_future.get(id(w.future))
        if rec is not None:
            rec["group"] = len(GROUPS) - 1
            rec["taken"] = t0
    return group


groupmod.GroupCommit._take = take  # type: ignore[method-assign]

_prepare_into = groupmod.GroupCommit._prepare_into


def prepare_into(self: Any, into: Any, items: Any) -> None:
    _prepare_into(self, into, items)
    g = getattr(_group_now, "g", None)
    if g is not None:
        g["prepared"] = now()


groupmod.GroupCommit._prepare_into = prepare_into  # type: ignore[method-assign]

_store = groupmod.GroupCommit._store


def store(self: Any, group: Any, prepared: Any) -> None:
    g = getattr(_group_now, "g", None)
    if g is not None:
        g["store"] = now()
    _store(self, group, prepared)
    if g is not None:
        g["stored"] = now()
        g["cpu1"] = time.thread_time()
        g["sched1"] = sched()


groupmod.GroupCommit._store = store  # type: ignore[method-assign]

_settle = groupmod._settle


def settle(future: Any, outcome: Any = None, error: Any = None) -> None:
    rec = _by_future.get(id(future))
    if rec is not None:
        rec["settled"] = now()
    _settle(future, outcome, error)


groupmod._settle = settle

_settle_waiter = groupmod.GroupCommit._settle


def settle_waiter(self: Any, w: Any, outcome: Any = None, error: Any = None) -> None:
    rec = _by_future.get(id(w.future))
    if rec is not None:
        rec["settled"] = now()
    _settle_waiter(self, w, outcome, error)


groupmod.GroupCommit._settle = settle_waiter  # type: ignore[method-assign]

_store_or_split = service._store_or_split


def store_or_split(*args: Any, **kwargs: Any) -> Any:
    g = getattr(_group_now, "g", None)
    if g is not None:
        g["write"] = now()
    try:
        return _store_or_split(*args, **kwargs)
    finally:
        if g is not None:
            g["written"] = now()


service._store_or_split = store_or_split

_published = service._published


def published(*args: Any, **kwargs: Any) -> Any:
    g = getattr(_group_now, "g", None)
    if g is not None:
        g["publish"] = now()
    try:
        return _published(*args, **kwargs)
    finally:
        if g is not None:
            g["published"] = now()


service._published = published

_gc_start: dict[int, tuple[float, float]] = {}


def on_gc(phase: str, info: dict[str, Any]) -> None:
    ident = threading.get_ident()
    if phase == "start":
        _gc_start[ident] = (now(), time.thread_time())
    else:
        t0 = _gc_start.pop(ident, None)
        if t0 is not None:
            GCS.append((t0[0], now() - t0[0], info["generation"], time.thread_time() - t0[1]))


gc.callbacks.append(on_gc)


def dump() -> None:
    out = os.environ.get("FIRELINE_TRACE_OUT")
    if out:
        with open(out, "wb") as f:
            f.write(orjson.dumps({"requests": REQUESTS, "groups": GROUPS, "gcs": GCS, "stalls": STALLS}))


atexit.register(dump)
# uvicorn raises the SIGTERM it caught again once it has shut down: dump then, as atexit would not run.
signal.signal(signal.SIGTERM, lambda *_: (dump(), os._exit(0)))

if __name__ == "__main__":
    if os.environ.get("FIRELINE_TRACE_GC"):  # an experiment: the thresholds set after start-up
        wanted = [int(x) for x in os.environ["FIRELINE_TRACE_GC"].split(",")]
        _set = gc.set_threshold
        gc.set_threshold = lambda *_: _set(*wanted)
    if os.environ.get("FIRELINE_TRACE_SWITCH"):  # an experiment: the GIL's switch interval, in seconds
        sys.setswitchinterval(float(os.environ["FIRELINE_TRACE_SWITCH"]))
    from fireline.cli.main import app

    sys.argv = ["fireline", *sys.argv[1:]]
    app()
