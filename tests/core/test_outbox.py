"""Work whose loss matters goes through the outbox: a failing handler is counted on /metrics and
retried with backoff until it succeeds, without replaying the handlers that already succeeded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select

from fireline import outbox
from fireline.config import AppConfig, Config
from fireline.db import Database
from fireline.outbox import OutboxEntry
from tests.support.faults import refusing_inserts
from tests.support.fireline import Fireline, running

DECLARE = {"title": "Card numbers in answers", "type": "data_leakage", "severity": "P0", "apps": ["support-bot"]}


def metric(fl: Fireline, name: str, **labels: str) -> float:
    with fl.client(None) as http:
        text = http.get("/metrics").text
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((name + "{", name + " ")) and all(w in line for w in want))


def wait_for(pred: Callable[[], Any], seconds: float = 20.0, what: str = "it") -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_a_failing_handler_is_counted_and_its_work_retried(db: Database) -> None:
    with running(db) as fl:
        fl.app.state.outbox.retry_base_s = 0.2
        got: list[str] = []
        failures = [2]

        def flaky(*, incident_id: str, **_: Any) -> None:
            if failures[0]:
                failures[0] -= 1
                raise ConnectionError("the paging service is down")
            got.append(incident_id)

        fl.db.bus.subscribe("incident.opened", flaky)
        before = metric(fl, "fireline_event_handler_failures_total", topic="incident.opened")
        others: list[str] = []
        fl.db.bus.subscribe("incident.opened", lambda *, incident_id, **_: others.append(incident_id),
                            name="steady")
        with fl.client("responder") as http:
            iid = http.post("/api/v1/incidents", json={**DECLARE, "severity": "P3"}).json()["id"]
        wait_for(lambda: got == [iid], what="the retried handler")
        assert metric(fl, "fireline_event_handler_failures_total", topic="incident.opened") == before + 2
        assert metric(fl, "fireline_outbox_redelivered_total", topic="incident.opened", outcome="done") >= 1
        wait_for(lambda: metric(fl, "fireline_outbox_depth", topic="incident.opened") == 0, what="an empty outbox")
        assert others == [iid]  # the handler that succeeded the first time is not called again
        with fl.client(None) as http:
            assert "fireline_database_up 1.0" in http.get("/metrics").text


def test_a_failed_auto_containment_is_visible_and_retried(db: Database) -> None:
    config = Config(apps={"support-bot": AppConfig()})
    with running(db, config) as fl, fl.client("responder") as http:
        fl.app.state.outbox.retry_base_s = 0.3
        with refusing_inserts(db, "controls") as lift:
            iid = http.post("/api/v1/incidents", json=DECLARE).json()["id"]
            entries = wait_for(lambda: [e for e in http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
                                        if e["kind"] == "auto_containment_failed"], what="the failure entry")
            assert entries[0]["data"]["retried"] is True
            assert metric(fl, "fireline_auto_containment_failures_total", outcome="retried") >= 1
            assert http.get(f"/api/v1/incidents/{iid}").json()["state"] == "acknowledged"
            lift()
        wait_for(lambda: http.get(f"/api/v1/incidents/{iid}").json()["state"] == "contained", what="containment")
        controls = http.get("/api/v1/controls", params={"incident_id": iid}).json()["controls"]
        assert [c["kind"] for c in controls] == ["kill_switch"] and controls[0]["actor"] == "auto-contain"
        time.sleep(1.0)  # later deliveries of the same entry change nothing
        assert len(http.get("/api/v1/controls", params={"incident_id": iid}).json()["controls"]) == 1


def test_entries_written_together_take_one_statement_and_their_ids_in_order(db: Database) -> None:
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with db.writing() as session:
        outbox.add(session, "calls.ingested", {"call_ids": ["c-0"]})
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            ids = outbox.add_many(session, "alert.fired", [{"alert": {"n": n}} for n in range(300)])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    with db.session() as session:
        entries = session.scalars(select(OutboxEntry).where(OutboxEntry.topic == "alert.fired"))
        payloads = {e.id: e.payload for e in entries}
    assert [payloads[i]["alert"]["n"] for i in ids] == list(range(300))
