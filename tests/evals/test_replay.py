"""Replay of the demo's leak against the scriptable upstream over HTTP: the current (faulty) model
version fails nearly every time, the rolled-back one nearly never; outputs are judged, never logged."""

from __future__ import annotations

from sqlalchemy import func, select

from fireline.calls.models import RawAccess
from fireline.db import Database
from tests.evals.story import FIXED, finished, leak_story, stored_calls
from tests.support.cli import invoke


def _replay_reads(db: Database, iid: str) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(RawAccess)
                                  .where(RawAccess.reason == f"replay of {iid}")) or 0)


def test_replay_measures_the_faulty_version_near_one_and_the_fix_near_zero(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        before = stored_calls(db)
        est = api.post(f"/api/v1/incidents/{iid}/replays", json={"n": 20, "model": FIXED, "dry_run": True})
        assert est.status_code == 200, est.text
        estimate = est.json()["estimate"]
        assert estimate["arms"] == ["current", "candidate"] and estimate["requests"] == estimate["cases"] * 2 * 20
        assert estimate["cost_usd"] and estimate["cost_usd"] > 0 and "canary" in estimate["judges"]
        assert _replay_reads(db, iid) == 0  # an estimate reads nothing raw
        job = api.post(f"/api/v1/incidents/{iid}/replays", json={"n": 20, "model": FIXED})
        assert job.status_code == 202, job.text
        done = finished(api, iid, job.json()["id"])
        assert done["state"] == "done", done
        summary = done["result"]["summary"]
        assert summary["current"]["rate"] >= 0.95 and summary["current"]["ci_low"] > 0.8
        assert summary["candidate"]["rate"] == 0 and summary["candidate"]["ci_high"] < 0.2
        for case in done["result"]["cases"]:
            assert "canary: canary_leak (P0)" in case["arms"]["current"]["violations"]
        # Sent straight to the upstream, around the kill switch, and never stored as calls.
        assert story.upstream.script.count >= summary["current"]["samples"] + summary["candidate"]["samples"]
        assert stored_calls(db) == before
        kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
        assert "replay_started" in kinds and "replay_finished" in kinds
        assert _replay_reads(db, iid) == len(done["result"]["cases"])  # each raw read is access-logged


def test_replay_cli_asks_first_and_prints_rates_side_by_side(db: Database) -> None:
    with leak_story(db) as story:
        iid = story.incident["id"]
        code, text = invoke(story.fl, "responder", "replay", iid, "-n", "10", "--model", FIXED)
        assert code == 1 and "requests to" in text and "not sent" in text  # no --yes, no terminal: not sent
        code, text = invoke(story.fl, "responder", "replay", iid, "-n", "10", "--model", FIXED, "--yes")
        assert code == 0, text
        assert "current" in text and "candidate" in text and "100% [" in text and "0% [0%-" in text
        code, text = invoke(story.fl, "viewer", "replay", iid, "--yes")
        assert code == 1 and "403" in text


def test_red_team_expansion_reports_a_rate_per_family(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        first = story.incident["linked_calls"][0]
        job = api.post(f"/api/v1/incidents/{iid}/replays", json={
            "n": 2, "call_ids": [first], "red_team": True, "families": ["casing", "encoding", "language"]})
        assert job.status_code == 202, job.text
        done = finished(api, iid, job.json()["id"])
        fams = {f["family"]: f for f in done["result"]["families"]}
        assert set(fams) == {"casing", "encoding", "language"}
        assert fams["casing"]["variants"] == 4 and fams["casing"]["samples"] == 8
        assert all(f["rate"] == 1.0 for f in fams.values())  # the faulty version leaks whatever is asked


def test_bad_replay_requests_are_clear_4xx(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        r = api.post(f"/api/v1/incidents/{iid}/replays", json={"prompt_version": "v99", "dry_run": True})
        assert r.status_code == 422 and "v99" in r.json()["detail"]
        r = api.post(f"/api/v1/incidents/{iid}/replays", json={"upstream": "nowhere", "dry_run": True})
        assert r.status_code == 422 and "nowhere" in r.json()["detail"]
        r = api.post(f"/api/v1/incidents/{iid}/replays", json={"call_ids": ["not-linked"], "dry_run": True})
        assert r.status_code == 422 and "not-linked" in r.json()["detail"]
        r = api.post(f"/api/v1/incidents/{iid}/replays", json={"n": 10_000, "red_team": True})
        assert r.status_code == 422 and "max_samples" in r.json()["detail"]
        r = api.post("/api/v1/incidents/INC-nope/replays", json={"dry_run": True})
        assert r.status_code == 404
