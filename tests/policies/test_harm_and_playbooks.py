"""Severity and type from the harm, retyping, playbooks scoped to the signature, rollback before onset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from fireline import config as fl_config
from fireline.cli.main import app as cli_app
from fireline.config import Config
from fireline.db import Database
from fireline.incidents import service
from fireline.simulator.upstream import UpstreamServer
from tests.incidents.helpers import alert, store_calls
from tests.policies.conftest import client, scripted, tool, wait_incident
from tests.support.fireline import Fireline, running

MODELS = ["gpt-4o-2024-11-20", "gpt-4o-2024-08-06", "gpt-4o-2024-05-13"]  # current first
CONFIG: dict[str, Any] = {
    "apps": {"support-bot": {"models": MODELS, "prompts": {"v3": "Be brief.", "v2": "Be kind.", "v1": "Hello."}},
             "ops-agent": {"tools": {"run_sql": "write"}}},
    "auto_contain": {"*": ["P0"]},
}


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as server:
        yield server


def incident(fl: Fireline, incident_id: str) -> dict[str, Any]:
    with fl.client("viewer") as http:
        return dict(http.get(f"/api/v1/incidents/{incident_id}").json())


def test_a_destructive_write_noticed_by_a_p2_monitor_opens_at_p0_and_is_contained(fl: Fireline) -> None:
    """No policy declared: the tool-argument monitor (P2) notices DROP TABLE; the harm makes it P0."""
    r = client(fl).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "clean up"}],
        tools=[tool("run_sql", query="string")],  # type: ignore[list-item]
        extra_headers={"X-Fireline-App": "ops-agent", "X-Fireline-Session": "job-9", "X-Fireline-Tenant": "ops",
                       **scripted(tool_name="run_sql", arguments={"query": "DROP TABLE customers;"})})
    assert r.parse().choices[0].message.tool_calls  # nothing declared: the gateway lets it through
    inc = wait_incident(fl, lambda i: i["dedup_key"].startswith("monitor:tool_argument_anomaly"))
    assert (inc["type"], inc["severity"]) == ("agentic_harm", "P0")
    with fl.client("viewer") as http:
        opened = http.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["entries"][0]["data"]
    assert opened["original_severity"] == "P2" and opened["harm"]["kind"] == "destructive_write"
    inc = wait_incident(fl, lambda i: i["id"] == inc["id"] and i["contained_at"] is not None)
    with fl.client("viewer") as http:
        controls = http.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"]
    assert [(c["kind"], c["scope"]) for c in controls] == [("read_only", {"app": "ops-agent", "tenant": "ops"})]


def test_a_later_alert_with_personal_data_leaving_raises_and_retypes_the_open_incident(fl: Fireline) -> None:
    egress = {"detector": "pii", "kind": "pii_egress", "entity": "EMAIL_ADDRESS", "severity": "P1", "confidence": 0.9,
              "location": "tool", "item": 0, "start": 0, "end": 5, "evidence": "<EMAIL_ADDRESS>"}
    anomaly = {**egress, "detector": "tool_policy", "kind": "argument_anomaly", "severity": "P2", "entity": None}
    ids = store_calls(fl.db, [{"findings": [anomaly]}, {"findings": [anomaly, egress]}])
    key = "monitor:tool_argument_anomaly:app=support-bot"
    first = service.on_alert_fired(fl.db, alert(key, type="agentic_harm", severity="P2", call_ids=(ids[0],),
                                                signal="tool_policy"))
    assert (incident(fl, first)["type"], incident(fl, first)["severity"]) == ("agentic_harm", "P2")
    assert service.on_alert_fired(fl.db, alert(key, type="agentic_harm", severity="P2", call_ids=(ids[1],),
                                               signal="tool_policy")) == first
    inc = incident(fl, first)
    assert (inc["type"], inc["severity"], inc["playbook"]) == ("data_leakage", "P0", "data_leakage")
    with fl.client("viewer") as http:
        kinds = [e["kind"] for e in http.get(f"/api/v1/incidents/{first}/timeline").json()["entries"]]
    assert kinds[kinds.index("retyped") + 1] == "severity"
    wait_incident(fl, lambda i: i["id"] == first and i["contained_at"] is not None)  # P0: auto-contained


def test_a_responder_retypes_an_incident_by_api_and_cli(fl: Fireline, monkeypatch: pytest.MonkeyPatch) -> None:
    with fl.client("responder") as http:
        inc = http.post("/api/v1/incidents", json={"title": "mail agent misbehaving", "type": "agentic_harm",
                                                   "severity": "P2", "apps": ["support-bot"]}).json()
        bad = http.post(f"/api/v1/incidents/{inc['id']}/type", json={"type": "data_leak", "reason": "typo"})
        assert bad.status_code == 422 and bad.json()["field"] == "type"
        assert http.post(f"/api/v1/incidents/{inc['id']}/type", json={"type": "data_leakage"}).status_code == 422
    with fl.client("viewer") as http:
        assert http.post(f"/api/v1/incidents/{inc['id']}/type",
                         json={"type": "data_leakage", "reason": "x"}).status_code == 403
    monkeypatch.setenv("FIRELINE_URL", fl.url)
    monkeypatch.setenv("FIRELINE_TOKEN", fl.keys["responder"])
    fl_config.reset()
    result = CliRunner().invoke(cli_app, ["incident", "retype", inc["id"], "data_leakage", "--reason",
                                          "customer data was mailed out", "--severity", "P1"])
    fl_config.reset()
    assert result.exit_code == 0, result.output
    assert "data_leakage P1" in result.output
    got = incident(fl, inc["id"])
    assert (got["type"], got["severity"], got["playbook"]) == ("data_leakage", "P1", "data_leakage")
    with fl.client("viewer") as http:
        entry = http.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "retyped"}).json()["entries"][0]
    assert entry["data"]["from"] == "agentic_harm" and entry["data"]["reason"] == "customer data was mailed out"
    wait_incident(fl, lambda i: i["id"] == inc["id"] and i["contained_at"] is None)  # P1 is not "*": [P0] here


def test_rollback_picks_the_version_in_effect_before_onset_not_the_previous_registry_entry(fl: Fireline) -> None:
    # Yesterday ran on the oldest model; the incident began when traffic moved to the current one.
    before = [{"model": MODELS[2], "minutes": i, "prompt_version": "v1"} for i in range(30)]
    during = [{"model": MODELS[0], "minutes": 60 + i, "prompt_version": "v3"} for i in range(10)]
    ids = store_calls(fl.db, before + during)
    with fl.client("responder") as http:
        inc = http.post("/api/v1/incidents", json={"title": "answers got worse", "type": "quality_degradation",
                                                   "severity": "P2", "apps": ["support-bot"],
                                                   "call_ids": ids[30:]}).json()
        done = http.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert done.status_code == 201, done.text
        pin = done.json()["controls"][0]
        assert (pin["kind"], pin["params"]["model"]) == ("model_pin", MODELS[2])  # not MODELS[1]
        assert "before onset" in pin["reason"]


def test_no_rollback_when_the_version_did_not_change_at_onset(fl: Fireline) -> None:
    same = [{"model": MODELS[0], "minutes": i} for i in range(40)]
    ids = store_calls(fl.db, same)
    with fl.client("responder") as http:
        inc = http.post("/api/v1/incidents", json={"title": "answers got worse", "type": "quality_degradation",
                                                   "severity": "P2", "apps": ["support-bot"],
                                                   "call_ids": ids[30:]}).json()
        r = http.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert r.status_code == 422 and "no primary action" in r.json()["detail"]

