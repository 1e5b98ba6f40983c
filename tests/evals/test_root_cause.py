"""The root-cause record through the CLI: the 5 whys in order, remediation, the regression test (an
existing eval suite) and recurrence prevention, shown back and in the post-mortem."""

from __future__ import annotations

import yaml

from fireline.db import Database
from tests.support.cli import invoke
from tests.support.fireline import running


def test_root_cause_cli_records_the_chain(db: Database) -> None:
    with running(db) as fl, fl.client("responder") as api:
        iid = api.post("/api/v1/incidents", json={"title": "refusals tripled", "type": "capability_loss",
                                                  "apps": ["support-bot"]}).json()["id"]
        suite = {"fireline_eval": 1, "id": "refusal-lock", "incident": iid, "cases": [
            {"id": "c1", "input": [{"role": "user", "content": "How do I reset my password?"}],
             "expect": {"must_not_refuse": True}}]}
        assert api.put("/api/v1/evals", content=yaml.safe_dump(suite)).status_code == 201
        whys = ["Users got refusals", "Prompt v13 added a blanket safety clause", "The clause matched benign asks",
                "No eval covered benign asks", "Prompt changes ship without evals"]
        args = ["root-cause", iid, "--category", "prompt", "--factor", "no canary rollout",
                "--remediation", "roll back to v12", "--remediation", "narrow the clause",
                "--regression-test", "refusal-lock", "--prevention", "evals gate prompt deploys"]
        for w in whys:
            args += ["--why", w]
        code, text = invoke(fl, "responder", *args)
        assert code == 0, text
        assert "5 whys" in text and "why 1: Users got refusals" in text and "regression test: refusal-lock" in text
        rc = api.get(f"/api/v1/incidents/{iid}/root-cause").json()
        assert rc["whys"] == whys and rc["remediation"] == ["roll back to v12", "narrow the clause"]
        md = api.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "md"}).text
        assert "3. The clause matched benign asks" in md and "Recurrence prevention: evals gate prompt deploys" in md
        assert "[`refusal-lock`](/api/v1/evals/refusal-lock)" in md
        code, text = invoke(fl, "responder", "root-cause", iid, "--regression-test", "missing-suite")
        assert code == 1 and "regression_test" in text
        code, text = invoke(fl, "responder", "root-cause", iid, "--category", "vibes")
        assert code == 1 and "category" in text
