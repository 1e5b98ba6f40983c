"""The small in-process event bus: earlier parts publish facts, later parts react.

Handlers run synchronously in the publisher's thread, in subscription order. A failing
handler does not stop the others; it is counted and logged, never swallowed silently.

Events reach handlers in the order they were published: what a handler publishes is
delivered after the event it is handling has reached every handler (not in the middle), so
no subscriber sees "incident contained" (published by the auto-containment handler of
"incident.opened") before "incident opened". `publish` returns once its event and everything
published in reaction to it were delivered. An event that carries the publisher's open
`session` ("subject.erased", "calls.purged": handlers write in that transaction) is always
delivered at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fireline.events")

Handler = Callable[..., Any]
_handlers: dict[str, list[Handler]] = defaultdict(list)
failures: dict[str, int] = defaultdict(int)


def subscribe(topic: str, handler: Handler) -> None:
    if handler not in _handlers[topic]:
        _handlers[topic].append(handler)


def unsubscribe(topic: str, handler: Handler) -> None:
    if handler in _handlers[topic]:
        _handlers[topic].remove(handler)


_pending = threading.local()  # this thread's events waiting for the one being delivered


def publish(topic: str, **payload: Any) -> None:
    queue: deque[tuple[str, dict[str, Any]]] | None = getattr(_pending, "queue", None)
    if queue is not None:  # published by a handler: after the current event reached every handler
        if "session" in payload:  # part of the publisher's transaction: now or never
            _deliver(topic, payload)
        else:
            queue.append((topic, payload))
        return
    queue = _pending.queue = deque([(topic, payload)])
    try:
        while queue:
            name, data = queue.popleft()
            _deliver(name, data)
    finally:
        _pending.queue = None


def _deliver(topic: str, payload: dict[str, Any]) -> None:
    for handler in list(_handlers[topic]):
        try:
            handler(**payload)
        except Exception:
            failures[topic] += 1
            log.exception("event handler %s for %s failed", getattr(handler, "__name__", handler), topic)


def has_subscribers(topic: str) -> bool:
    return bool(_handlers[topic])
