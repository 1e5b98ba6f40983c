"""`fireline serve` with timestamps on the gateway path, for bench/gateway_trace.py (not used by Fireline).

Wraps, without changing what they do: the gateway's chat endpoint (a request's arrival, its checks
done, its record handed to the writer, its answer sent, with the event-loop thread's CPU time and
run-queue wait from /proc/thread-self/schedstat), the writer thread's steps (a batch read from the
spool, prepared by the helper process, opened, stored, the spool's fdatasync) and every GC pass.
Written as JSON to $FIRELINE_TRACE_OUT at exit (SIGTERM).
"""

from __future__ import annotations

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

from fireline.calls import service
from fireline.gateway import call as callmod
from fireline.gateway import prepare, proxy, spool, writer

now = time.monotonic
REQUESTS: list[dict[str, Any]] = []
PHASES: list[tuple[str, float, float, float]] = []  # (name, start, end, thread CPU seconds)
GCS: list[tuple[float, float, int, str]] = []
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("trace", default=None)


def sched() -> tuple[float, float]:
    """This thread's seconds on a CPU and runnable waiting for one."""
    with open("/proc/thread-self/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


_chat = proxy.Gateway.chat


async def chat(self: Any, scope: Any, receive: Any, send: Any) -> None:
    if not THREADS.get("loop"):
        THREADS["loop"] = str(threading.get_native_id())
        THREADS[THREADS["loop"]] = "loop"
    run0, wait0 = sched()
    rec: dict[str, Any] = {"entry": now()}
    _current.set(rec)
    await _chat(self, scope, receive, send)
    rec["exit"] = now()
    run1, wait1 = sched()
    rec["cpu"], rec["runq"] = run1 - run0, wait1 - wait0
    REQUESTS.append(rec)


proxy.Gateway.chat = chat  # type: ignore[method-assign]

_run = callmod.Call.run


async def run(self: Any, send: Any) -> None:
    rec = _current.get()
    if rec is not None:
        rec["checked"] = now()
        self._trace = rec
    await _run(self, send)


_finish = callmod.Call.finish


def finish(self: Any, **fields: Any) -> None:
    t = getattr(self, "_trace", None)
    if t is not None:
        t["submit"] = now()
    _finish(self, **fields)
    if t is not None:
        t["submitted"] = now()


callmod.Call.finish = finish  # type: ignore[method-assign]
callmod.Call.run = run  # type: ignore[method-assign]


def phase(name: str, fn: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = now(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            PHASES.append((name, t0, now(), time.thread_time() - c0))
    return wrapped


writer.CallWriter._store = phase("store", writer.CallWriter._store)  # type: ignore[method-assign]
prepare.Helper.run = phase("helper", prepare.Helper.run)  # type: ignore[method-assign]
prepare.Shipped.opened = phase("open", prepare.Shipped.opened)  # type: ignore[method-assign]
writer.service.ingest_prepared = phase("ingest", service.ingest_prepared)  # type: ignore[attr-defined]
service._store_or_split = phase("write", service._store_or_split)
service._published = phase("events", service._published)
spool.Spool.sync = phase("fsync", spool.Spool.sync)  # type: ignore[method-assign]
spool.Spool.read = phase("read", spool.Spool.read)  # type: ignore[method-assign]

THREADS: dict[str, str] = {}
_writer_run = writer.CallWriter._run


def writer_run(self: Any) -> None:
    THREADS[str(threading.get_native_id())] = "writer"
    _writer_run(self)


writer.CallWriter._run = writer_run  # type: ignore[method-assign]

_gc_start: dict[int, tuple[float, float]] = {}


def on_gc(ph: str, info: dict[str, Any]) -> None:
    ident = threading.get_ident()
    if ph == "start":
        _gc_start[ident] = (now(), time.thread_time())
    else:
        t0 = _gc_start.pop(ident, None)
        if t0 is not None:
            GCS.append((t0[0], now() - t0[0], info["generation"], threading.current_thread().name))


gc.callbacks.append(on_gc)


def dump() -> None:
    out = os.environ.get("FIRELINE_TRACE_OUT")
    if out:
        with open(out, "wb") as f:
            f.write(orjson.dumps({"requests": REQUESTS, "phases": PHASES, "gcs": GCS, "pid": os.getpid(),
                                  "threads": THREADS}))


atexit.register(dump)
def on_term(*_: Any) -> None:
    dump()
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)

if __name__ == "__main__":
    from fireline.cli.main import app

    sys.argv = ["fireline", *sys.argv[1:]]
    app()
