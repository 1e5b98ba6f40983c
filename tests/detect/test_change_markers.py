"""Change markers Fireline records itself, from the calls it sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.db import Database
from tests.comms.support import wait_for
from tests.support.fireline import running


def _call(at: str, resolved: str) -> dict[str, Any]:
    return {"app": "support-bot", "model": "gpt-4o", "model_resolved": resolved, "started_at": at,
            "input": [{"role": "user", "content": "where is my order?"}], "output": "It ships today."}


def test_a_batch_mixing_times_with_and_without_an_offset_still_records_the_swap(db: Database) -> None:
    """A time without an offset is UTC; one such call in a batch must not cost the batch its markers."""
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    naive = [_call((t + timedelta(seconds=i)).replace(tzinfo=None).isoformat(), "gpt-4o-2024-08-06") for i in range(3)]
    aware = [_call((t + timedelta(minutes=5, seconds=i)).isoformat(), "gpt-4o-2024-11-20") for i in range(3)]
    with running(db) as fl:
        with fl.client("ingest") as http:
            assert http.post("/api/v1/calls", json={"calls": aware + naive}).status_code == 201
        with fl.client("viewer") as http:
            got = wait_for(lambda: http.get("/api/v1/changes", params={"app": "support-bot", "kind": "model"})
                           .json()["changes"], what="the recorded model change")
    assert [(c["from"], c["to"], c["actor"]) for c in got] == [("gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "fireline")]
