from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireline import events
from tests.ingest.helpers import ALERT_TOPICS


@pytest.fixture
def captured() -> Iterator[list[tuple[str, Any]]]:
    """(topic, Alert) for every alert published while the test runs."""
    got: list[tuple[str, Any]] = []
    handlers = {}
    for topic in ALERT_TOPICS:
        def handler(topic: str = topic, **payload: Any) -> None:
            got.append((topic, payload["alert"]))
        handlers[topic] = handler
        events.subscribe(topic, handler)
    yield got
    for topic, handler in handlers.items():
        events.unsubscribe(topic, handler)
