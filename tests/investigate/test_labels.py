"""The labelling queue: a stable sample of an incident's affected calls, labels by category, their
counts in the post-mortem; bad labels and unlinked calls are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fireline.db import Database
from tests.support.cli import invoke
from tests.support.fireline import running


def test_label_a_sample_of_affected_answers_and_see_the_counts_in_the_postmortem(db: Database) -> None:
    t = datetime.now(UTC) - timedelta(minutes=30)
    calls = [{"id": f"h-{i}", "app": "kb-assistant", "output": f"You get a refund within {90 + i} days [kb-1].",
              "retrieval": [{"id": "kb-1", "text": "Refunds are issued within 30 days."}],
              "started_at": (t + timedelta(seconds=i)).isoformat()} for i in range(12)]
    with running(db) as fl:
        with fl.client("ingest") as http:
            assert http.post("/api/v1/calls", json={"calls": calls}).status_code == 201
        with fl.client("responder") as http:
            inc = http.post("/api/v1/incidents", json={"title": "invented refund window", "type": "hallucination",
                                                       "apps": ["kb-assistant"],
                                                       "call_ids": [c["id"] for c in calls]}).json()
            path = f"/api/v1/incidents/{inc['id']}/labels"
            q = http.get(path + "/queue", params={"n": 5}).json()
            assert len(q["calls"]) == 5 and q["remaining"] == 12 and "factual_error" in q["labels"]
            assert q["calls"] == http.get(path + "/queue", params={"n": 5}).json()["calls"], "a stable sample"
            assert all("grounding/contradicted_claim" in c["findings"] for c in q["calls"])
            for c, label in zip(q["calls"], ["factual_error", "factual_error", "confabulation", "correct",
                                             "invented_citation"], strict=True):
                assert http.post(path, json={"call_id": c["call_id"], "label": label}).status_code == 201
            bad = http.post(path, json={"call_id": q["calls"][0]["call_id"], "label": "meh"})
            assert bad.status_code == 422 and bad.json()["field"] == "label"
            stranger = http.post(path, json={"call_id": "not-linked", "label": "other"})
            assert stranger.status_code == 404 and "call_id" in stranger.json()["detail"]
            again = http.get(path + "/queue", params={"n": 50}).json()
            assert again["remaining"] == 7 and again["labelled"] == 5
            got = http.get(path).json()
            assert got["counts"]["factual_error"] == 2 and got["labelled"] == 5
            pm = http.get(f"/api/v1/incidents/{inc['id']}/postmortem", params={"format": "md"}).text
            assert "Labelled sample of affected answers" in pm and "factual_error: 2" in pm
        code, text = invoke(fl, "responder", "labels", "counts", inc["id"])
        assert code == 0 and "factual_error" in text
        code, text = invoke(fl, "responder", "labels", "queue", inc["id"], "-n", "3")
        assert code == 0 and "7 to go" in text
