from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireline.db import Database
from fireline.ingest import alerts
from fireline.signals import Alert


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """(topic, Alert) for every alert the receivers publish while the test runs."""
    got: list[tuple[str, Any]] = []
    publish = alerts.publish

    def recording(db: Database, topic: str, alert: Alert) -> None:
        got.append((topic, alert))
        publish(db, topic, alert)

    monkeypatch.setattr(alerts, "publish", recording)
    yield got
