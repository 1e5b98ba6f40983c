"""The small in-process bus: earlier parts publish facts, later parts react.

One `EventBus` per app, made by the app factory (`fireline.api.create_app`), which subscribes
every handler in one place (`fireline.wiring`). Nothing subscribes at import time.

Handlers run synchronously in the publisher's thread, in subscription order. A failing handler
does not stop the others: it is counted by topic (`on_failure`, exported on /metrics) and logged
with ids only (payloads carry content, so neither they nor the exception message are logged).
`publish_strict` runs every handler too, then raises `HandlerFailed` when one failed: for
publishers that must tell their sender (a webhook answering 503) or abort their transaction.
`publish_durable` is for events whose outbox entry (fireline.outbox) was written in the same
transaction as the fact: handlers that fail are retried by the outbox worker, with backoff.
Named subscriptions (`name=`) serve gathering topics such as evidence sources.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fireline.events")

Handler = Callable[..., Any]
FailureHook = Callable[[str, str], None]  # (topic, handler name)


class HandlerFailed(Exception):
    """One or more handlers of a strictly published event raised (the first is the cause)."""

    def __init__(self, topic: str, failures: list[tuple[str, BaseException]]) -> None:
        names = ", ".join(name for name, _ in failures)
        super().__init__(f"{len(failures)} handler(s) of {topic} failed: {names}")
        self.topic = topic
        self.failures = failures


def handler_name(handler: Handler) -> str:
    return str(getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None) or handler)


def ids_of(payload: dict[str, Any]) -> str:
    """What a log line may say about a payload: identifiers, never content."""
    parts = []
    for key in ("incident_id", "snapshot_id", "revision", "source", "clock", "state"):
        if key in payload and isinstance(payload[key], str | int):
            parts.append(f"{key}={payload[key]}")
    alert = payload.get("alert")
    if alert is not None and hasattr(alert, "dedup_key"):
        parts.append(f"dedup_key={alert.dedup_key}")
    calls = payload.get("calls") or payload.get("call_ids")
    if isinstance(calls, list | tuple) and calls:
        first = calls[0]
        first_id = first if isinstance(first, str) else getattr(first, "id", "?")
        parts.append(f"calls={len(calls)} first={first_id}")
    return " ".join(parts)


def where(exc: BaseException) -> str:
    """file:line of the innermost frame (the place to look, without the message)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"


class EventBus:
    def __init__(self, on_failure: FailureHook | None = None) -> None:
        # Tuples, replaced on subscribe: publish iterates without copying (the ingest hot path).
        self._handlers: dict[str, tuple[tuple[str, Handler], ...]] = {}
        self.on_failure = on_failure
        self.on_delivered: Callable[[int, list[str]], None] | None = None  # the app's outbox
        self.failures: dict[str, int] = defaultdict(int)

    def subscribe(self, topic: str, handler: Handler, *, name: str | None = None) -> None:
        current = self._handlers.get(topic, ())
        if any(h is handler or h == handler for _, h in current):
            return
        self._handlers[topic] = (*current, (name or handler_name(handler), handler))

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        current = self._handlers.get(topic, ())
        self._handlers[topic] = tuple((n, h) for n, h in current if not (h is handler or h == handler))

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    def named(self, topic: str) -> list[tuple[str, Handler]]:
        """The (name, handler) pairs of a topic, in subscription order."""
        return list(self._handlers.get(topic, ()))

    def publish(self, topic: str, **payload: Any) -> int:
        """Run every handler; returns how many failed (each counted and logged)."""
        handlers = self._handlers.get(topic)
        if not handlers:
            return 0
        failed = 0
        for name, handler in handlers:
            try:
                handler(**payload)
            except Exception as exc:
                failed += 1
                self.failed(topic, name, exc, payload)
        return failed

    def deliver(self, topic: str, only: list[str] | None = None, **payload: Any) -> list[str]:
        """Run the handlers (those named in `only`, else all); returns the names that failed."""
        failed: list[str] = []
        for name, handler in self._handlers.get(topic, ()):
            if only is not None and name not in only:
                continue
            try:
                handler(**payload)
            except Exception as exc:
                failed.append(name)
                self.failed(topic, name, exc, payload)
        return failed

    def publish_durable(self, topic: str, outbox_id: int | None, **payload: Any) -> list[str]:
        """Deliver an event whose outbox entry was committed with its fact, then tell the outbox
        (`on_delivered`) which handlers still owe it: none marks it done, others are retried."""
        failed = self.deliver(topic, **payload)
        if outbox_id is not None and self.on_delivered is not None:
            self.on_delivered(outbox_id, failed)
        return failed

    def publish_strict(self, topic: str, **payload: Any) -> None:
        """Run every handler, then raise HandlerFailed (from the first error) if any failed."""
        errors: list[tuple[str, BaseException]] = []
        for name, handler in self._handlers.get(topic, ()):
            try:
                handler(**payload)
            except Exception as exc:
                self.failed(topic, name, exc, payload)
                errors.append((name, exc))
        if errors:
            raise HandlerFailed(topic, errors) from errors[0][1]

    def failed(self, topic: str, name: str, exc: BaseException, payload: dict[str, Any]) -> None:
        """Count and log one handler failure (also for callers that run handlers themselves)."""
        self.failures[topic] += 1
        if self.on_failure is not None:
            try:
                self.on_failure(topic, name)
            except Exception:  # a metrics hiccup must not hide the failure itself
                log.debug("failure hook raised", exc_info=True)
        log.error("event handler %s for %s failed: %s at %s %s", name, topic, type(exc).__name__, where(exc),
                  ids_of(payload))
        log.debug("event handler %s traceback", name, exc_info=exc)
