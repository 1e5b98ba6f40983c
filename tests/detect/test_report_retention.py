"""User reports are purged with the calls they are about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fireline.calls.retention import run_retention
from fireline.db import Database
from tests.support.fireline import running


def test_retention_takes_reports_with_their_calls(db: Database) -> None:
    now = datetime.now(UTC)
    with running(db) as fl:
        with fl.client("ingest") as http:
            for cid, age in (("old", 500), ("new", 1)):
                r = http.post("/api/v1/calls", json={"id": cid, "app": "bot", "output": "an answer",
                                                     "started_at": (now - timedelta(days=age)).isoformat()})
                assert r.status_code == 201
                r = http.post("/api/v1/reports", json={"call_id": cid, "kind": "wrong", "text": "not true"})
                assert r.status_code == 201, r.text
        with db.writing() as session:
            report = run_retention(session, raw_days=30, record_days=400)
        assert report.calls_purged == 1
        with fl.client("viewer") as http:
            left = [r["call_id"] for r in http.get("/api/v1/reports").json()["reports"]]
        assert left == ["new"]
