"""The event bus: one per app, handlers wired in one place, failures counted and exported."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fireline.db import Database
from fireline.events import EventBus, HandlerFailed
from tests.support.fireline import running


def test_a_failing_handler_does_not_stop_the_others_and_is_counted() -> None:
    counted: list[tuple[str, str]] = []
    bus = EventBus(on_failure=lambda topic, name: counted.append((topic, name)))
    got: list[int] = []

    def broken(**_: Any) -> None:
        raise ValueError("secret content must not reach the log")

    bus.subscribe("t", broken)
    bus.subscribe("t", lambda n, **_: got.append(n))
    bus.subscribe("t", broken)  # subscribing twice is a no-op
    assert bus.publish("t", n=1) == 1
    assert got == [1] and bus.failures["t"] == 1 and counted[0][0] == "t" and "broken" in counted[0][1]
    with pytest.raises(HandlerFailed) as err:
        bus.publish_strict("t", n=2)
    assert got == [1, 2] and err.value.topic == "t" and isinstance(err.value.__cause__, ValueError)
    bus.unsubscribe("t", broken)
    assert bus.publish("t", n=3) == 0 and got == [1, 2, 3]


def test_failure_log_carries_ids_not_content(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()

    def broken(**_: Any) -> None:
        raise ValueError("alice@example.com said something private")

    bus.subscribe("incident.opened", broken)
    with caplog.at_level(logging.ERROR, logger="fireline.events"):
        bus.publish("incident.opened", incident_id="INC-1", title="alice@example.com leaked")
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    line = record.getMessage()
    assert "INC-1" in line and "ValueError" in line and "incident.opened" in line
    assert "alice" not in line and "private" not in line


def test_each_app_has_its_own_bus_wired_by_the_factory(db: Database) -> None:
    from fireline.api import create_app

    first, second = create_app(db), create_app(db)
    assert first.state.bus is not second.state.bus
    assert db.bus is second.state.bus  # the database publishes on the newest app's bus
    for topic in ("calls.prepared", "calls.ingested", "alert.fired", "incident.opened", "controls.changed",
                  "subject.erased", "calls.purged"):
        assert second.state.bus.has_subscribers(topic), topic
    assert [n for n, _ in second.state.bus.named("evidence.sources")] == ["controls", "changes"]


def test_handler_failures_are_exported_on_metrics_by_topic(db: Database) -> None:
    with running(db) as fl:
        def broken(**_: Any) -> None:
            raise RuntimeError("boom")

        fl.db.bus.subscribe("calls.ingested", broken)
        with fl.client("ingest") as c:
            r = c.post("/api/v1/calls", json={"app": "support-bot", "input": [{"role": "user", "content": "hi"}],
                                              "output": "hello"})
            assert r.status_code in (200, 201, 202), r.text
            text = c.get("/metrics").text
    line = next(ln for ln in text.splitlines() if ln.startswith("fireline_event_handler_failures_total{")
                and 'topic="calls.ingested"' in ln)
    assert float(line.rsplit(" ", 1)[1]) >= 1
