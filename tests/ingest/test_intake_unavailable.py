"""Alertmanager and PagerDuty intake answer 503 while the incident cannot be recorded, so their
senders retry; the retried alert opens exactly one incident."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fireline.db import Database
from tests.ingest.helpers import fixture_json
from tests.ingest.test_alertmanager_real import BINARY, alertmanager
from tests.support.faults import refusing_inserts
from tests.support.fireline import Fireline, running


def metric(fl: Fireline, name: str, **labels: str) -> float:
    text = httpx.get(f"{fl.url}/metrics", timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{" if labels else name) and want in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def incidents(fl: Fireline) -> list[dict[str, object]]:
    with fl.client("viewer") as http:
        return list(http.get("/api/v1/incidents").json()["incidents"])


def test_webhooks_answer_503_until_the_incident_is_recorded(db: Database) -> None:
    am, pd = fixture_json("alertmanager_firing.json"), fixture_json("pagerduty_trigger.json")
    with running(db) as fl, fl.client("ingest") as http:
        pd["routing_key"] = fl.keys["ingest"]
        with refusing_inserts(db, "incidents") as lift:
            before = (metric(fl, "fireline_alert_intake_unavailable_total", source="alertmanager"),
                      metric(fl, "fireline_event_handler_failures_total", topic="alert.fired"))
            r = http.post("/api/v1/alerts/alertmanager", json=am)
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            r = http.post("/v2/enqueue", json=pd)
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            assert incidents(fl) == []
            assert metric(fl, "fireline_alert_intake_unavailable_total", source="alertmanager") == before[0] + 1
            assert metric(fl, "fireline_event_handler_failures_total", topic="alert.fired") == before[1] + 2
            lift()
            # the senders retry (twice here: a lost answer makes a sender send again)
            for _ in range(2):
                assert http.post("/api/v1/alerts/alertmanager", json=am).status_code == 200
                assert http.post("/v2/enqueue", json=pd).status_code == 202
        found = incidents(fl)
        assert sorted(str(i["dedup_key"]) for i in found) == sorted(
            ["alertmanager:" + am["groupKey"], "pagerduty:srv01/llm-latency"])


@pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed")
def test_real_alertmanager_retries_a_503_and_opens_one_incident(db: Database, tmp_path: Path) -> None:
    with running(db) as fl, alertmanager(tmp_path, fl.url, fl.keys["ingest"]) as am:
        with refusing_inserts(db, "incidents") as lift:
            before = metric(fl, "fireline_alert_intake_unavailable_total", source="alertmanager")
            alert = {"labels": {"alertname": "LLMLeak", "app": "support-bot", "severity": "critical",
                                "fireline_type": "data_leakage"},
                     "annotations": {"summary": "support-bot leaks"}, "startsAt": datetime.now(UTC).isoformat()}
            assert httpx.post(f"{am}/api/v2/alerts", json=[alert], timeout=5).status_code == 200
            deadline = time.monotonic() + 30
            while metric(fl, "fireline_alert_intake_unavailable_total", source="alertmanager") <= before:
                assert time.monotonic() < deadline, "Alertmanager never called"
                time.sleep(0.2)
            assert incidents(fl) == []
            lift()
        deadline = time.monotonic() + 60
        while not incidents(fl):
            assert time.monotonic() < deadline, "Alertmanager did not retry within 60 s"
            time.sleep(0.3)
        time.sleep(3)  # later group flushes re-send the same group: still one incident
        (inc,) = incidents(fl)
        assert inc["type"] == "data_leakage" and inc["severity"] == "P0"
