"""The tool-argument baseline survives a restart: it is relearned from the stored calls."""

from __future__ import annotations

from fireline.db import Database
from tests.support.fireline import running


def refund(i: int, amount: float) -> dict[str, object]:
    return {"id": f"r-{i}", "app": "agent", "output": "done",
            "tool_calls": [{"name": "issue_refund", "kind": "write", "arguments": {"amount": amount}}]}


def test_argument_anomaly_after_restart(db: Database) -> None:
    with running(db) as fl, fl.client("ingest") as http:
        calls = [refund(i, 20 + (i % 7)) for i in range(40)]
        assert http.post("/api/v1/calls", json={"calls": calls}).status_code == 201
    with running(db) as fl:  # a fresh process: nothing in memory
        with fl.client("ingest") as http:
            http.post("/api/v1/calls", json=refund(99, 9999))
        with fl.client("viewer") as http:
            kinds = [f["kind"] for f in http.get("/api/v1/calls/r-99").json()["findings"]]
    assert "argument_anomaly" in kinds
