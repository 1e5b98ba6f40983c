"""Policies judge every call however it arrives: the native API and OTLP traces, not only the gateway."""

from __future__ import annotations

from typing import Any

from fireline.config import Config
from fireline.db import Database
from tests.ingest.helpers import fixture_bytes
from tests.policies.conftest import wait_incident
from tests.support.fireline import running

GENAI_TOOL_CALL = "otlp-5b8efff798038103d269b633813fc60c-b2b2b2b2b2b2b2b2"
CONFIG: dict[str, Any] = {
    "apps": {"support-bot": {"tools": {"issue_refund": "write", "lookup_order": "read"}}},
    "policies": [
        {"name": "no-refund-promises", "app": "support-bot", "target": "output", "deny_terms": ["refund"],
         "type": "policy_bypass", "severity": "P2", "action": "block"},
        {"name": "no-password-talk", "app": "*", "target": "input", "deny_terms": ["password"],
         "type": "prompt_injection", "severity": "P3"},
    ],
}


def test_native_and_otlp_calls_are_judged_by_the_same_policies(db: Database) -> None:
    with running(db, Config.model_validate(CONFIG)) as fl:
        with fl.client("ingest") as http:
            native = {"id": "n-1", "app": "other-bot", "session_id": "s-7",
                      "input": [{"role": "user", "content": "What is the admin Password?"}], "output": "No."}
            assert http.post("/api/v1/calls", json=native).status_code == 201
            r = http.post("/v1/traces", content=fixture_bytes("genai_agent.json"),
                          headers={"Content-Type": "application/json"})
            assert r.status_code == 200, r.text
        with fl.client("responder") as http:
            findings = http.get("/api/v1/calls/n-1").json()["findings"]
            found = {(f["detector"], f["kind"], f["location"]) for f in findings}
            assert ("policy:no-password-talk", "deny_term", "input") in found
            otlp = http.get(f"/api/v1/calls/{GENAI_TOOL_CALL}").json()
            assert otlp["output"] == "I'll issue the refund now."  # outside the gateway nothing is blocked...
            assert "policy:no-refund-promises" in {f["detector"] for f in otlp["findings"]}
        # ...but the violation opens an incident at the rule's severity, naming the rule.
        inc = wait_incident(fl, lambda i: "no-refund-promises" in i["title"])
        assert (inc["type"], inc["severity"], inc["apps"]) == ("policy_bypass", "P2", ["support-bot"])
        assert GENAI_TOOL_CALL in inc["linked_calls"]
        low = wait_incident(fl, lambda i: "no-password-talk" in i["title"])
        assert low["severity"] == "P3" and low["scope"]["sessions"] == ["s-7"]
