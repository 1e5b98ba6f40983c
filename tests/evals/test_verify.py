"""`fireline verify` after a rollback: it passes only once new calls run on the pinned version and
the monitor that fired is back under its baseline for a window; a rollback that misses the cause
fails."""

from __future__ import annotations

import time
from typing import Any

import httpx

from fireline.db import Database
from tests.evals.story import APP, FAULTY, FIXED, QUESTIONS, Story, ask, leak_story, wait
from tests.support.cli import invoke

WINDOW = {"window": "2s", "min_calls": 6}


def _verify(story: Story, **body: Any) -> dict[str, Any]:
    r = story.api.post(f"/api/v1/incidents/{story.incident['id']}/fix-verification", json={**WINDOW, **body})
    assert r.status_code == 200, r.text
    return r.json()


def _pin(story: Story, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    r = story.api.post("/api/v1/controls", json={"kind": kind, "scope": {"app": APP}, "params": params,
                                                 "incident_id": story.incident["id"], "reason": "rollback"})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _lift_kill_switch(story: Story) -> None:
    # Every kill switch on the app: the canary leak also opens the PII-in-output incident (raised to P0
    # by the same harm), and auto-containment acts on each.
    for c in story.api.get("/api/v1/controls", params={"app": APP}).json()["controls"]:
        if c["kind"] == "kill_switch":
            assert story.api.delete(f"/api/v1/controls/{c['id']}", params={"reason": "rolled back"}).status_code \
                == 200


def _traffic(story: Story, n: int = 9) -> None:
    with httpx.Client(base_url=story.fl.url, timeout=10,
                      headers={"Authorization": f"Bearer {story.fl.keys['ingest']}"}) as gw:
        for i in range(n):
            assert ask(gw, QUESTIONS[i % 3], f"late{i}@acme.example", model=FAULTY).status_code == 200


def _stored(story: Story, at_least: int) -> None:
    def enough() -> bool:
        got = story.api.get("/api/v1/calls/count", params={"app": APP}).json()["count"]
        return got >= at_least
    wait(enough)


def test_verify_passes_after_a_rollback_once_traffic_is_on_the_pin_and_the_rate_is_down(db: Database) -> None:
    with leak_story(db) as story:
        iid = story.incident["id"]
        assert _verify(story, record=False)["verdict"] in ("failed", "pending")  # no fix yet
        _pin(story, "model_pin", {"model": FIXED})
        first = _verify(story)
        assert first["verdict"] == "pending"
        assert "kill switch" in first["summary"] or "needed" in first["summary"]
        _lift_kill_switch(story)
        before = story.api.get("/api/v1/calls/count", params={"app": APP}).json()["count"]
        _traffic(story)
        _stored(story, before + 9)
        routed = next(c for c in _verify(story, record=False)["checks"] if c["check"] == "routing")
        assert routed["status"] == "ok" and routed["calls"] >= 6 and f"model {FIXED}" in routed["expected"][0]
        time.sleep(2.1)  # a full window of new traffic since the pin
        code, text = invoke(story.fl, "responder", "verify", iid, "--window", "2s", "--min-calls", "6")
        assert code == 0, text
        assert "PASSED" in text and "canary_leak back under its baseline" in text.replace("\n", " ")
        kinds = [(e["kind"], e["data"].get("verdict"))
                 for e in story.api.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
        assert ("fix_verification", "pending") in kinds and ("fix_verification", "passed") in kinds
        pm = story.api.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "md"}).text
        assert "Fix verification: **passed**" in pm
        view = story.api.get(f"/api/v1/incidents/{iid}").json()["after_action"]
        assert view["fix_verification"]["verdict"] == "passed" and view["eval_lock"]["exists"] is False


def test_a_rollback_that_misses_the_cause_fails_verification(db: Database) -> None:
    with leak_story(db) as story:
        iid = story.incident["id"]
        _pin(story, "prompt_pin", {"version": "v11"})  # the fault is in the model version, not the prompt
        _lift_kill_switch(story)
        before = story.api.get("/api/v1/calls/count", params={"app": APP}).json()["count"]
        _traffic(story)
        _stored(story, before + 9)
        time.sleep(2.1)
        code, text = invoke(story.fl, "responder", "verify", iid, "--window", "2s", "--min-calls", "6")
        assert code == 1, text
        assert "FAILED" in text and "still over its baseline" in text.replace("\n", " ")
        routing = next(c for c in _verify(story, record=False)["checks"] if c["check"] == "routing")
        assert routing["status"] == "ok"  # the traffic did move to v11; the leak did not stop


def test_verify_is_not_the_chain_check_and_needs_a_responder(db: Database) -> None:
    with leak_story(db) as story:
        iid = story.incident["id"]
        code, text = invoke(story.fl, "viewer", "verify", iid)
        assert code == 1 and "403" in text
        code, text = invoke(story.fl, "viewer", "incident", "verify", iid)
        assert code == 0, text  # the timeline's hash chain, unchanged
        bad = story.api.post(f"/api/v1/incidents/{iid}/fix-verification", json={"window": "soon"})
        assert bad.status_code == 422 and "window" in bad.json()["detail"]


def test_the_server_verifies_on_its_own_after_a_pin(db: Database) -> None:
    """The playbook step: after a model pin on an incident the verdict arrives without anyone asking."""
    auto = {"evals": {"verify": {"window": "2s", "min_calls": 6, "every_s": 0.3}}}
    with leak_story(db, auto) as story:
        iid = story.incident["id"]
        _pin(story, "model_pin", {"model": FIXED})
        _lift_kill_switch(story)
        _traffic(story)

        def verdict() -> dict[str, Any] | None:
            rows = story.api.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "fix_verification"}).json()
            return next((e for e in rows["entries"] if e["actor"] == "fireline-verify"), None)

        entry = wait(verdict, timeout=30)
        assert entry["data"]["verdict"] == "passed", entry
        assert story.api.get(f"/api/v1/incidents/{iid}").json()["after_action"]["fix_verification"]["verdict"] \
            == "passed"
