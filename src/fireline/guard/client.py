"""`Guard`: the control state of one app kept in memory from the server's SSE stream.

Answers (`enabled()`, `model()`, `tool_allowed()`, `read_only()`, `check_rate()`) come from
memory and cost microseconds. A background thread holds the stream open and reconnects with
backoff; while the control plane is unreachable the last known state stays in force. Before
any state has arrived the guard fails safe per `fail_closed` (argument, else the app's
`fail_closed` in a local FIRELINE_CONFIG, else open).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from fireline.controls.state import ControlState, Enforcement, RateLimiter, counter_key

log = logging.getLogger("fireline.guard")

Listener = Callable[[ControlState], None]


def _local_fail_closed(app: str) -> bool:
    try:
        from fireline.config import get_config

        return bool(get_config().app(app).fail_closed)
    except Exception:
        return False


class Guard:
    def __init__(self, url: str, key: str, app: str, *, fail_closed: bool | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 60.0, max_backoff: float = 5.0,
                 start: bool = True) -> None:
        self.url = url.rstrip("/")
        self.app = app
        self.fail_closed = _local_fail_closed(app) if fail_closed is None else fail_closed
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        self._timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self._max_backoff = max_backoff
        self._state: ControlState | None = None
        self._limiter = RateLimiter()
        self._listeners: list[Listener] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self.connected = False
        self.last_error: str | None = None
        self.updated_at: float | None = None  # time.monotonic() of the last state received
        self._thread = threading.Thread(target=self._run, name=f"fireline-guard-{app}", daemon=True)
        if start:
            self._thread.start()

    # --- answers (memory only) -----------------------------------------------------------

    @property
    def state(self) -> ControlState | None:
        return self._state

    @property
    def revision(self) -> int | None:
        state = self._state
        return state.revision if state is not None else None

    def enforcement(self, *, user: str | None = None, tenant: str | None = None, model: str | None = None,
                    cohort: str | None = None) -> Enforcement | None:
        """Everything that applies to one request; None before any state has arrived."""
        state = self._state
        if state is None:
            return None
        return state.for_request(app=self.app, user=user, tenant=tenant, model=model, cohort=cohort)

    def enabled(self, *, user: str | None = None, tenant: str | None = None, cohort: str | None = None) -> bool:
        enf = self.enforcement(user=user, tenant=tenant, cohort=cohort)
        return not self.fail_closed if enf is None else enf.kill is None

    def fallback_message(self, *, user: str | None = None, tenant: str | None = None) -> str | None:
        enf = self.enforcement(user=user, tenant=tenant)
        return enf.fallback_message if enf is not None else None

    def model(self, *, user: str | None = None, tenant: str | None = None) -> str | None:
        """The pinned model, else the app's current model (None when unknown)."""
        state = self._state
        if state is None:
            return None
        enf = state.for_request(app=self.app, user=user, tenant=tenant)
        if enf.model is not None:
            return enf.model[1]
        models = state.app_config(self.app).models
        return models[0] if models else None

    def prompt_version(self, *, user: str | None = None, tenant: str | None = None) -> str | None:
        state = self._state
        if state is None:
            return None
        enf = state.for_request(app=self.app, user=user, tenant=tenant)
        if enf.prompt is not None:
            return enf.prompt[1]
        prompts = state.app_config(self.app).prompts
        return next(iter(prompts), None)

    def tool_allowed(self, name: str, *, user: str | None = None, tenant: str | None = None) -> bool:
        enf = self.enforcement(user=user, tenant=tenant)
        return not self.fail_closed if enf is None else name not in enf.disabled_tools

    def read_only(self, *, user: str | None = None, tenant: str | None = None) -> bool:
        enf = self.enforcement(user=user, tenant=tenant)
        return self.fail_closed if enf is None else enf.read_only is not None

    def check_rate(self, user: str | None, *, tenant: str | None = None, now: float | None = None) -> float | None:
        """None when allowed (and counted), else seconds to wait (this process's counters)."""
        enf = self.enforcement(user=user, tenant=tenant)
        if enf is None or not enf.rate_limits:
            return None
        at = time.time() if now is None else now
        worst: float | None = None
        for control in enf.rate_limits:
            wait = self._limiter.check(control, counter_key(control, user=user, tenant=tenant), at)
            if wait is not None and (worst is None or wait > worst):
                worst = wait
        return worst

    # --- life cycle --------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda s: True, timeout)

    def wait_for_revision(self, revision: int, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda s: s.revision >= revision, timeout)

    def wait_for(self, predicate: Callable[[ControlState], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._state is not None and predicate(self._state), timeout)

    def close(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- the stream ------------------------------------------------------------------------

    def _apply(self, data: str) -> None:
        state = ControlState.from_json(json.loads(data))
        with self._cond:
            self._state = state
            self.updated_at = time.monotonic()
            self._cond.notify_all()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("guard listener failed")

    def _run(self) -> None:
        backoff = 0.05
        with httpx.Client(timeout=self._timeout, headers=self._headers) as client:
            while not self._stop.is_set():
                try:
                    got = self._stream(client)
                    self.last_error = None
                except Exception as exc:  # network errors, bad payloads: keep the last state
                    got = False
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    if not self._stop.is_set():
                        log.debug("guard stream for %s failed: %s", self.app, self.last_error)
                finally:
                    self.connected = False
                    self._sock = None
                if got:  # a stream the server ended in order (its max duration): reconnect now
                    backoff = 0.05
                    continue
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, self._max_backoff)

    def _stream(self, client: httpx.Client) -> bool:
        got = False
        with client.stream("GET", f"{self.url}/api/v1/controls/stream") as resp:
            if resp.status_code != 200:
                resp.read()
                raise RuntimeError(f"stream answered {resp.status_code}: {resp.text[:200]}")
            stream = resp.extensions.get("network_stream")
            self._sock = stream.get_extra_info("socket") if stream is not None else None
            self.connected = True
            if self._stop.is_set():
                return got
            data: list[str] = []
            for line in resp.iter_lines():
                if self._stop.is_set():
                    break
                if not line:
                    if data:
                        self._apply("\n".join(data))
                        got = True
                        data = []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                if name == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
        return got
