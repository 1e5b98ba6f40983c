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

Events reach handlers in the order they were published: what a handler publishes is delivered
after the event it is handling has reached every handler, not in the middle, so no subscriber
sees "incident contained" (published by auto-containment while it handles "incident opened")
before "incident opened". `publish` returns once its event and everything published in
reaction to it were delivered. Events that carry the publisher's open `session` (handlers
write in that transaction) and `publish_strict` are delivered at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fireline.events")
MANY = "__many__"  # the payload key of events published together (publish_durable_many)

Handler = Callable[..., Any]
# An event waiting for the one being delivered: topic, payload, and what to tell when delivered.
Pending = tuple[str, dict[str, Any], Callable[[list[str]], None] | None]
FailureHook = Callable[[str, str], None]  # (topic, handler name)
ManyHandler = Callable[[list[dict[str, Any]]], Any]  # several payloads of one topic, all or nothing


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
        self._pending = threading.local()  # per thread: events published by the handlers running now
        self._many: dict[tuple[str, str], ManyHandler] = {}  # (topic, handler name) -> its batch form

    def subscribe(self, topic: str, handler: Handler, *, name: str | None = None,
                  many: ManyHandler | None = None) -> None:
        """`many`: the same handling for several events at once (their payloads, in order), used by
        `publish_durable_many`; it must do all or nothing (one transaction), since when it raises
        each event goes to `handler` alone."""
        current = self._handlers.get(topic, ())
        if any(h is handler or h == handler for _, h in current):
            return
        label = name or handler_name(handler)
        self._handlers[topic] = (*current, (label, handler))
        if many is not None:
            self._many[(topic, label)] = many

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        current = self._handlers.get(topic, ())
        self._handlers[topic] = tuple((n, h) for n, h in current if not (h is handler or h == handler))

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    def named(self, topic: str) -> list[tuple[str, Handler]]:
        """The (name, handler) pairs of a topic, in subscription order."""
        return list(self._handlers.get(topic, ()))

    def publish(self, topic: str, **payload: Any) -> int:
        """Run every handler; returns how many failed (each counted and logged). Published by a
        handler, the event waits until the current one reached every handler (0 is returned)."""
        if not self._handlers.get(topic):
            return 0
        queue: deque[Pending] | None = getattr(self._pending, "queue", None)
        if queue is not None and "session" not in payload:
            queue.append((topic, payload, None))
            return 0
        if queue is not None:  # part of the publisher's transaction: now or never
            return len(self._deliver(topic, payload))
        return len(self._drain(topic, payload))

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

    def publish_durable(self, topic: str, outbox_id: int | list[int] | None, **payload: Any) -> list[str]:
        """Deliver an event whose outbox entry (or entries: one event for the facts of several) was
        committed with its fact, then tell the outbox (`on_delivered`) which handlers still owe it:
        none marks it done, others are retried.
        In publication order like `publish`: published by a handler, it waits its turn (and
        answers [] at once; the outbox hears of its delivery when it happens)."""
        entries = [outbox_id] if isinstance(outbox_id, int) else outbox_id or []

        def delivered(failed: list[str]) -> None:
            if self.on_delivered is not None:
                for entry in entries:
                    self.on_delivered(entry, failed)

        queue: deque[Pending] | None = getattr(self._pending, "queue", None)
        if queue is not None:
            queue.append((topic, payload, delivered))
            return []
        errors = self._drain(topic, payload, delivered)
        return [name for name, _ in errors]

    def publish_durable_many(self, topic: str, events: list[tuple[int | None, dict[str, Any]]]) -> None:
        """Several events of one topic, each with its outbox entry, as one step of the publication
        order: a handler subscribed with `many` takes them in one call (the alerts of one ingest batch
        in one transaction); if that raises, and for the other handlers, each event is delivered
        alone. The outbox hears of each entry as `publish_durable` would tell it."""
        if not events:
            return
        queue: deque[Pending] | None = getattr(self._pending, "queue", None)
        if queue is not None:
            queue.append((topic, {MANY: events}, None))
            return
        self._drain(topic, {MANY: events})

    def publish_strict(self, topic: str, **payload: Any) -> None:
        """Run every handler, then raise HandlerFailed (from the first error) if any failed."""
        if getattr(self._pending, "queue", None) is not None:
            errors = self._deliver(topic, payload)
        else:
            errors = self._drain(topic, payload)
        if errors:
            raise HandlerFailed(topic, errors) from errors[0][1]

    def _drain(self, topic: str, payload: dict[str, Any],
               delivered: Callable[[list[str]], None] | None = None) -> list[tuple[str, BaseException]]:
        """Deliver one event, then what its handlers published, in order (this thread only)."""
        queue: deque[Pending] = deque()
        self._pending.queue = queue
        try:
            errors = self._deliver(topic, payload)
            if delivered is not None:
                delivered([name for name, _ in errors])
            while queue:
                name, data, done = queue.popleft()
                failed = self._deliver(name, data)
                if done is not None:
                    done([n for n, _ in failed])
            return errors
        finally:
            self._pending.queue = None

    def _deliver(self, topic: str, payload: dict[str, Any]) -> list[tuple[str, BaseException]]:
        if MANY in payload:
            self._deliver_many(topic, payload[MANY])
            return []
        errors: list[tuple[str, BaseException]] = []
        for name, handler in self._handlers.get(topic, ()):
            try:
                handler(**payload)
            except Exception as exc:
                self.failed(topic, name, exc, payload)
                errors.append((name, exc))
        return errors

    def _deliver_many(self, topic: str, events: list[tuple[int | None, dict[str, Any]]]) -> None:
        failed: list[list[str]] = [[] for _ in events]
        for name, handler in self._handlers.get(topic, ()):
            many = self._many.get((topic, name))
            if many is not None and len(events) > 1:
                try:
                    many([payload for _, payload in events])
                    continue
                except Exception as exc:  # all or nothing: now each event on its own
                    log.info("event handler %s for %d %s events at once failed (%s at %s); one by one",
                             name, len(events), topic, type(exc).__name__, where(exc))
            for i, (_, payload) in enumerate(events):
                try:
                    handler(**payload)
                except Exception as exc:
                    self.failed(topic, name, exc, payload)
                    failed[i].append(name)
        if self.on_delivered is not None:
            for (entry_id, _), names in zip(events, failed, strict=True):
                if entry_id is not None:
                    self.on_delivered(entry_id, names)

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
