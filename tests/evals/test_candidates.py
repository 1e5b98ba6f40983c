"""Candidates and targets: a prompt fix measured beside the current prompt, a named staging
upstream, and a suite run by the server itself."""

from __future__ import annotations

import yaml

from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.evals.story import FAULTY, FIXED, PROMPTS, finished, leak_story, wait
from tests.support.cli import invoke


def test_a_prompt_candidate_is_measured_beside_the_logged_prompt(db: Database, tmp_path) -> None:
    with leak_story(db) as story:
        iid = story.incident["id"]
        # This time the fault follows the prompt in service (v12), not the model.
        story.upstream.reset()
        story.upstream.add_rule("leak_canary", {"token": "CANARY-globex-7f3a9c2e41"},
                                match={"system_contains": PROMPTS["v12"]})
        code, text = invoke(story.fl, "responder", "replay", iid, "-n", "8", "--prompt-version", "v11", "--yes",
                            "--json")
        assert code == 0, text
        import json

        result = json.loads(text[text.index("{"):])["result"]
        assert result["summary"]["current"]["rate"] == 1.0 and result["summary"]["candidate"]["rate"] == 0.0
        assert result["arms"]["candidate"]["system_prompt"] == "prompt version v11"
        prompt = tmp_path / "candidate.txt"
        prompt.write_text(PROMPTS["v12"] + " Never mention other customers.")  # still carries the trigger
        code, text = invoke(story.fl, "responder", "replay", iid, "-n", "4", "--system-prompt", str(prompt), "--yes")
        assert code == 0 and text.count("100% [") >= 2, text


def test_replay_to_a_named_staging_upstream(db: Database) -> None:
    with UpstreamServer() as staging:
        staging.add_rule("refuse", match={"model": FAULTY})  # staging runs a build that no longer leaks
        extra = {"upstreams": {"staging": {"url": staging.base_url}}}
        with leak_story(db, extra) as story:
            iid = story.incident["id"]
            r = story.api.post(f"/api/v1/incidents/{iid}/replays", json={"n": 5, "upstream": "staging"})
            assert r.status_code == 202, r.text
            done = finished(story.api, iid, r.json()["id"])
            assert done["result"]["upstream"] == staging.base_url
            assert done["result"]["summary"]["current"]["rate"] == 0.0
            assert staging.script.count == done["result"]["summary"]["current"]["samples"]


def test_the_server_runs_a_suite_against_the_upstream(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        lock = api.post(f"/api/v1/incidents/{iid}/evals").json()
        suite = yaml.safe_load(api.get(f"/api/v1/evals/{lock['id']}/export").text)
        assert suite["defaults"]["n"] == 73  # the fewest samples that can show under 5 % at 95 %
        for model, status in ((FAULTY, "failed"), (FIXED, "passed")):
            r = api.post(f"/api/v1/evals/{lock['id']}/runs", json={"model": model, "n": 10,
                                                                   "max_failure_rate": 0.3})
            assert r.status_code == 202, r.text
            run_id = r.json()["id"]

            def done(run_id: int = run_id) -> dict | None:
                got = api.get(f"/api/v1/eval-runs/{run_id}").json()
                return got if got["state"] != "running" else None

            got = wait(done, timeout=60)
            assert got["state"] == "done" and got["status"] == status and got["source"] == "server"
            assert got["report"]["counts"][status] == 3
        assert api.get(f"/api/v1/incidents/{iid}/evals").json()["passing"]
        r = api.post(f"/api/v1/evals/{lock['id']}/runs", json={"upstream": "elsewhere"})
        assert r.status_code == 422 and "elsewhere" in r.json()["detail"]
