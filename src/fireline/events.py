"""The small in-process event bus: earlier parts publish facts, later parts react.

Handlers run synchronously in the publisher's thread, in subscription order. A failing
handler does not stop the others; it is counted and logged, never swallowed silently.
"""

from __future__ import annotations

import logging
from collections import defaultdict
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


def publish(topic: str, **payload: Any) -> None:
    for handler in list(_handlers[topic]):
        try:
            handler(**payload)
        except Exception:
            failures[topic] += 1
            log.exception("event handler %s for %s failed", getattr(handler, "__name__", handler), topic)


def has_subscribers(topic: str) -> bool:
    return bool(_handlers[topic])
