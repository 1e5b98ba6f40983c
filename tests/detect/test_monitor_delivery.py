"""Monitors never lose a batch: one odd record is skipped alone, a failing or interrupted
delivery is redelivered from the database (also after a restart), and a firing whose alert
cannot be recorded is not left "firing" but tried again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fireline.db import Database
from fireline.detect.runtime import DetectRuntime
from tests.core.test_outbox import metric, wait_for
from tests.support.faults import refusing_inserts
from tests.support.fireline import Fireline, running

LEAKS = [{"app": "support-bot", "input": [{"role": "user", "content": "what card do I have on file?"}],
          "output": f"Your card 4111 1111 1111 1111 is on file, user{i}@example.com."} for i in range(20)]
YEAR_ONE = {"app": "support-bot", "input": [{"role": "user", "content": "hi"}], "output": "hello",
            "started_at": "0001-01-01T00:00:00"}  # no offset: read as UTC, as the database stores it
KEY = "monitor:pii_secret_leak:app=support-bot"


def send_batch(fl: Fireline) -> list[str]:
    with fl.client("ingest") as http:
        r = http.post("/api/v1/calls", json={"calls": LEAKS[:7] + [YEAR_ONE] + LEAKS[7:]})
        assert r.status_code == 201, r.text
        ids: list[str] = r.json()["ids"]
    return ids[:7] + ids[8:]


def incidents(fl: Fireline) -> list[dict[str, Any]]:
    with fl.client("viewer") as http:
        return [i for i in http.get("/api/v1/incidents").json()["incidents"] if i["dedup_key"] == KEY]


def test_a_year_one_call_does_not_blind_its_batch(db: Database) -> None:
    with running(db) as fl:
        failures = metric(fl, "fireline_event_handler_failures_total", topic="calls.ingested")  # process-wide
        leaks = send_batch(fl)
        (inc,) = wait_for(lambda: incidents(fl), what="the leak incident")
        assert set(leaks) <= set(inc["linked_calls"]) and inc["type"] == "data_leakage"
        assert metric(fl, "fireline_event_handler_failures_total", topic="calls.ingested") == failures


def test_monitors_catch_up_after_a_restart(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The monitors of the first server never see the batch (their handler fails until it stops,
    as a crash between commit and delivery would leave it); the next server evaluates it at start."""
    def broken(self: DetectRuntime, **_: Any) -> None:
        raise RuntimeError("monitor handler down")

    with monkeypatch.context() as patch:
        patch.setattr(DetectRuntime, "on_ingested", broken)
        with running(db) as first:
            before = metric(first, "fireline_event_handler_failures_total", topic="calls.ingested")
            leaks = send_batch(first)
            time.sleep(1.5)  # the outbox retries, and fails again
            assert incidents(first) == []
            assert metric(first, "fireline_event_handler_failures_total", topic="calls.ingested") >= before + 2
    with running(db) as second:
        (inc,) = wait_for(lambda: incidents(second), what="the leak incident after the restart")
        assert set(leaks) <= set(inc["linked_calls"])
        # the year-one call is replayed too, unless retention (which runs at start) purged it first
        assert second.app.state.detect.rebuilt["replayed_calls"] in (len(leaks), len(leaks) + 1)
        with second.client("viewer") as http:
            mon = next(m for m in http.get("/api/v1/monitors").json()["monitors"] if m["name"] == "pii_secret_leak")
        assert mon["groups"][0]["volume"] == len(leaks)  # counted once: by the rebuild, not again by the replay


def test_a_failed_delivery_is_redelivered_from_the_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    real = DetectRuntime.on_ingested

    def fails_in_memory(self: DetectRuntime, calls: Any = None, call_ids: Any = None, **kw: Any) -> None:
        if calls is not None:
            raise RuntimeError("in-memory delivery failed")
        real(self, call_ids=call_ids, **kw)

    monkeypatch.setattr(DetectRuntime, "on_ingested", fails_in_memory)
    with running(db) as fl:
        fl.app.state.outbox.retry_base_s = 0.2
        leaks = send_batch(fl)
        (inc,) = wait_for(lambda: incidents(fl), what="the redelivered batch to fire")
        assert set(leaks) <= set(inc["linked_calls"])
        # counted once the redelivered handler returns, which is just after it opened the incident
        wait_for(lambda: metric(fl, "fireline_outbox_redelivered_total", topic="calls.ingested", outcome="done") >= 1,
                 what="the redelivery to be counted")


def test_a_failed_alert_write_leaves_no_false_firing(db: Database) -> None:
    with running(db) as fl, refusing_inserts(db, "detect_alerts") as lift:
        before = metric(fl, "fireline_monitor_alert_write_failures_total")
        send_batch(fl)
        time.sleep(1.5)
        with fl.client("viewer") as http:
            mon = next(m for m in http.get("/api/v1/monitors").json()["monitors"] if m["name"] == "pii_secret_leak")
        assert all(g["state"] == "ok" for g in mon["groups"]) and incidents(fl) == []
        assert metric(fl, "fireline_monitor_alert_write_failures_total") >= before + 1
        lift()
        wait_for(lambda: incidents(fl), what="the alert retried by the monitor clock")
