"""Feedback that lands: reports on calls not written yet are joined when the call arrives, and
backdated history gives the feedback monitors a real baseline."""

from __future__ import annotations

import random
from datetime import timedelta

from fireline.db import Database
from tests.detect.scenarios import now, stream
from tests.detect.streams import capture, send
from tests.support.fireline import running


def test_a_report_before_its_call_is_joined_when_the_call_lands(db: Database) -> None:
    with running(db) as fl:
        with fl.client("ingest") as http:
            r = http.post("/api/v1/reports", json={"call_id": "gw-123", "kind": "thumbs_down", "text": "wrong"})
            assert r.status_code == 202 and r.json()["status"] == "pending"
            at = (now() - timedelta(seconds=5)).isoformat()
            send(http, [{"id": "gw-123", "app": "support-bot", "tenant": "acme", "output": "Hi", "started_at": at}])
        with fl.client("viewer") as http:
            got = http.get("/api/v1/reports", params={"call_id": "gw-123"}).json()["reports"]
            assert [(x["kind"], x["app"], x["tenant"], x["status"]) for x in got] == [
                ("thumbs_down", "support-bot", "acme", "stored")]
        mon = next(m for m in fl.client("viewer").get("/api/v1/monitors").json()["monitors"]
                   if m["name"] == "thumbs_down_rate")
        assert any(g["group"] == "app=support-bot" for g in mon["groups"]), "the joined report fed the monitor"


def test_backdated_feedback_is_a_real_baseline(db: Database) -> None:
    """A team whose users thumb down 8% of answers backfills five days of it: the same 8% today
    does not fire, while an app without that history fires on it (against the 2% default), and
    a real spike still fires."""
    rng = random.Random(21)
    t = now()
    history = stream(rng, t - timedelta(days=5), t - timedelta(hours=2), 30)
    today = stream(rng, t - timedelta(minutes=50), t - timedelta(minutes=1), 240)
    fresh = stream(rng, t - timedelta(minutes=50), t - timedelta(minutes=1), 240, app="new-bot")

    def thumbs(http, calls, rate, backdated=False):  # type: ignore[no-untyped-def]
        for c in calls:
            if rng.random() < rate:
                body = {"call_id": c["id"], "kind": "thumbs_down", **({"at": c["started_at"]} if backdated else {})}
                r = http.post("/api/v1/reports", json=body)
                assert r.status_code == 201, r.text

    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, history)
            thumbs(http, history, 0.08, backdated=True)
            send(http, today + fresh)
            thumbs(http, today[:150], 0.08)
            thumbs(http, fresh, 0.08)
            assert "monitor:thumbs_down_rate:app=support-bot" not in cap.keys, "its own 8% is normal"
            assert "monitor:thumbs_down_rate:app=new-bot" in cap.keys, "8% against the default floor"
            thumbs(http, today[150:], 0.6)
        assert "monitor:thumbs_down_rate:app=support-bot" in cap.keys


def test_eval_and_replay_traffic_is_logged_but_not_monitored(db: Database) -> None:
    """A lock run against a faulty candidate (X-Fireline-Environment: eval) refuses everything: the
    calls are in the log, but the refusal monitor and the change markers leave them out."""
    rng = random.Random(22)
    t = now()
    refusing = stream(rng, t - timedelta(minutes=20), t, 300, environment="eval", model="gpt-4o",
                      model_resolved="candidate-model", output="I'm sorry, but I can't help with that request.")
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, stream(rng, t - timedelta(days=1), t - timedelta(minutes=30), 40, model="gpt-4o",
                              model_resolved="gpt-4o-2024-08-06"))
            send(http, refusing)
        with fl.client("viewer") as http:
            assert http.get("/api/v1/calls/count", params={"environment": "eval"}).json()["count"] == len(refusing)
            assert not http.get("/api/v1/changes", params={"kind": "model"}).json()["changes"]
        assert not cap.keys, cap.keys
