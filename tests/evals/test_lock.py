"""The eval lock made from the demo's leak: exported as a suite file, it fails against the faulty
upstream and passes against the fixed one; the incident closes only once the lock passes."""

from __future__ import annotations

from pathlib import Path

import junitparser
import yaml

from fireline.db import Database
from tests.evals.story import CANARY, FAULTY, FIXED, leak_story
from tests.support.cli import invoke


def test_the_lock_gates_ci_and_the_close(db: Database, tmp_path: Path) -> None:
    with leak_story(db) as story:
        api, iid, fl, up = story.api, story.incident["id"], story.fl, story.upstream
        suite = tmp_path / "evals" / f"{iid}.yaml"
        suite.parent.mkdir()
        code, text = invoke(fl, "responder", "eval", "export", iid, "--out", str(suite))
        assert code == 0, text
        body = yaml.safe_load(suite.read_text())
        assert body["id"] == f"lock-{iid}" and body["incident"] == iid and len(body["cases"]) == 3
        first = body["cases"][0]
        assert CANARY in first["expect"]["must_not_contain_canaries"]
        assert "canary" in first["expect"]["detectors_must_stay_silent"]
        assert first["system_prompt"] and first["input"][0]["role"] == "user"
        assert api.post(f"/api/v1/incidents/{iid}/resolve", json={"reason": "rolled back"}).status_code == 200
        refused = api.post(f"/api/v1/incidents/{iid}/close")
        assert refused.status_code == 409 and "has not been run yet" in refused.json()["detail"]

        # CI against the faulty upstream: exit 1, JUnit failures, and the result reported (ingest key).
        junit = tmp_path / "faulty.xml"
        code, text = invoke(fl, "ingest", "eval", "run", str(suite), "--target", up.base_url, "--app", "support-bot",
                            "--model", FAULTY, "-n", "30", "--junit", str(junit))
        assert code == 1, text
        xml = junitparser.JUnitXml.fromfile(str(junit))
        assert xml.failures == 3 and xml.errors == 0
        refused = api.post(f"/api/v1/incidents/{iid}/close")
        assert refused.status_code == 409 and "failed" in refused.json()["detail"]

        # Through the gateway while the kill switch is on: fallbacks are not the model's answers.
        code, text = invoke(fl, "ingest", "eval", "run", str(suite), "--target", fl.url, "--app", "support-bot",
                            "--model", FAULTY, "-n", "3", "--no-report", "--json")
        assert code == 1 and '"status": "error"' in text and "X-Fireline-Contained" in text

        # Against the fixed version: exit 0, reported, and now the incident may close.
        code, text = invoke(fl, "ingest", "eval", "run", str(suite.parent), "--target", up.base_url,
                            "--app", "support-bot", "--model", FIXED, "--junit", str(tmp_path / "fixed.xml"))
        assert code == 0, text
        status = api.get(f"/api/v1/incidents/{iid}/evals").json()
        assert status["passing"] and status["last_run"]["status"] == "passed"
        assert status["last_run"]["model"] == FIXED and status["last_run"]["source"] == "ci"
        assert api.post(f"/api/v1/incidents/{iid}/close").status_code == 200
        kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
        assert kinds.count("eval_lock_result") == 2 and "eval_lock_created" in kinds

        pm = api.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "md"}).text
        assert f"lock-{iid}" in pm and "passed" in pm


def test_a_report_cannot_claim_a_pass(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        lock = api.post(f"/api/v1/incidents/{iid}/evals").json()
        cases = [{"case_id": f"case-{i}", "samples": 10, "failures": 5, "threshold": 0.05}
                 for i in (1, 2, 3)]
        r = api.post(f"/api/v1/evals/{lock['id']}/results", json={"target": "x", "status": "passed",
                                                                  "passed": True, "cases": cases})
        assert r.status_code == 201 and r.json()["status"] == "failed" and not r.json()["passed"]
        partial = api.post(f"/api/v1/evals/{lock['id']}/results", json={"target": "x", "cases": [
            {"case_id": "case-1", "samples": 100, "failures": 0, "threshold": 0.05}]})
        assert partial.json()["status"] == "failed" and partial.json()["report"]["missing_cases"]
        bad = api.post(f"/api/v1/evals/{lock['id']}/results", json={"target": "x", "cases": [
            {"case_id": "case-1", "samples": 1, "failures": 2, "threshold": 0.05}]})
        assert bad.status_code == 422 and "failures" in bad.json()["detail"]
        unknown = api.post(f"/api/v1/evals/{lock['id']}/results", json={"target": "x", "cases": [
            {"case_id": "other", "samples": 1, "failures": 0, "threshold": 0.05}]})
        assert unknown.status_code == 422 and "other" in unknown.json()["detail"]
        with story.fl.client(None) as anonymous:  # CI reports with a key of role ingest or higher
            assert anonymous.post(f"/api/v1/evals/{lock['id']}/results", json={"target": "x", "cases": cases}
                                  ).status_code == 401


def test_waiver_and_suite_edits(db: Database) -> None:
    with leak_story(db) as story:
        api, iid = story.api, story.incident["id"]
        api.post(f"/api/v1/incidents/{iid}/resolve", json={"reason": "fixed"})
        assert api.post(f"/api/v1/incidents/{iid}/evals/waive", json={"reason": " "}).status_code == 422
        w = api.post(f"/api/v1/incidents/{iid}/evals/waive", json={"reason": "model retired; nothing to lock"})
        assert w.status_code == 200 and w.json()["waived"]["reason"].startswith("model retired")
        assert api.post(f"/api/v1/incidents/{iid}/close").status_code == 200
        lock = api.post(f"/api/v1/incidents/{iid}/evals").json()
        with story.fl.client("viewer") as viewer:  # planted tokens are masked for viewers
            seen = viewer.get(f"/api/v1/evals/{lock['id']}").json()["suite"]["cases"][0]["expect"]
            assert CANARY not in str(seen) and seen["must_not_contain_canaries"][0].startswith("CANA")
            assert CANARY not in viewer.get(f"/api/v1/evals/{lock['id']}/export").text
        body = yaml.safe_load(api.get(f"/api/v1/evals/{lock['id']}/export").text)
        body["cases"] = body["cases"][:1]
        body["cases"][0]["expect"]["must_not_contain"] = ["globex"]
        put = api.put("/api/v1/evals", content=yaml.safe_dump(body), headers={"Content-Type": "application/yaml"})
        assert put.status_code == 200 and put.json()["cases"] == 1
        bad = dict(body, cases=[{**body["cases"][0], "expect": {"must_refuse": "maybe"}}])
        put = api.put("/api/v1/evals", content=yaml.safe_dump(bad))
        assert put.status_code == 422 and "cases[0].expect.must_refuse" in put.json()["detail"]
        pf = yaml.safe_load(api.get(f"/api/v1/evals/{lock['id']}/export", params={"format": "promptfoo"}).text)
        assert pf["prompts"] == ["{{ messages | dump }}"] and pf["providers"][0]["id"].startswith("openai:chat:")
        asserts = pf["tests"][0]["assert"]
        assert {"type": "not-icontains-any", "value": ["globex"]} in asserts
        assert any(a["type"] == "not-contains-any" and CANARY in a["value"] for a in asserts)
