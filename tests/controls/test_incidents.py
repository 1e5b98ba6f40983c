"""Controls on incidents: snapshot first, timeline entries, evidence source, playbooks, auto-containment."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from fireline.db import Database
from tests.controls.conftest import make_config
from tests.support.fireline import Fireline, running

if importlib.util.find_spec("fireline.incidents.service") is None:  # pragma: no cover
    pytest.skip("the incidents package is absent: nothing to link controls to", allow_module_level=True)

from fireline.incidents import evidence  # noqa: E402


def declare(fl: Fireline, type_: str, severity: str = "P1", apps: list[str] | None = None,
            **extra: Any) -> dict[str, Any]:
    with fl.client("responder") as c:
        r = c.post("/api/v1/incidents", json={"title": f"{type_} drill", "type": type_, "severity": severity,
                                              "apps": apps if apps is not None else ["bot"], **extra})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def timeline(fl: Fireline, incident_id: str) -> list[dict[str, Any]]:
    with fl.client("viewer") as c:
        return c.get(f"/api/v1/incidents/{incident_id}/timeline").json()["entries"]  # type: ignore[no-any-return]


def incident(fl: Fireline, incident_id: str) -> dict[str, Any]:
    with fl.client("viewer") as c:
        return c.get(f"/api/v1/incidents/{incident_id}").json()  # type: ignore[no-any-return]


def test_a_control_on_an_incident_snapshots_first_and_is_on_its_timeline(fl: Fireline) -> None:
    inc = declare(fl, "harmful_output")
    with fl.client("responder") as c:
        pin = c.post("/api/v1/controls", json={"kind": "prompt_pin", "scope": {"app": "bot"},
                                               "params": {"version": "v11"}, "incident_id": inc["id"]}).json()
        kill = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "bot"},
                                                "incident_id": inc["id"], "reason": "stop it"}).json()
        c.delete(f"/api/v1/controls/{kill['id']}", params={"reason": "pin is enough"})
    kinds = [e["kind"] for e in timeline(fl, inc["id"])]
    applied = [i for i, k in enumerate(kinds) if k == "control.applied"]
    assert len(applied) == 2 and all(kinds[i - 1] == "snapshot" for i in applied)
    assert kinds[-1] == "control.reverted"
    entries = timeline(fl, inc["id"])
    assert entries[applied[1]]["data"]["control_id"] == kill["id"]
    assert entries[-1]["data"]["revert_reason"] == "pin is enough"
    with fl.client("viewer") as c:
        assert c.get(f"/api/v1/incidents/{inc['id']}/verify").json()["ok"] is True
    # the snapshot taken before the kill switch holds the control plane with the prompt pin only
    with fl.db.session() as session:
        snaps = evidence.list_snapshots(session, inc["id"])
        before_kill = [s for s in snaps if s.reason == "before applying kill_switch"][0]
        _, members = evidence.load_members(session, before_kill)
    sources = dict(members)
    state = orjson.loads(sources["sources/controls.json"])  # type: ignore[arg-type]
    assert [c["id"] for c in state["controls"]] == [pin["id"]] and state["revision"] == pin["revision"]


def test_a_failed_snapshot_means_no_control(fl: Fireline, monkeypatch: pytest.MonkeyPatch) -> None:
    inc = declare(fl, "data_leakage", "P2")  # below the auto-containment default

    def broken(*_: Any, **__: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(evidence, "snapshot_locked", broken)
    with fl.client("responder") as c:
        r = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "bot"},
                                             "incident_id": inc["id"]})
        assert r.status_code == 503 and "not applied" in r.json()["detail"]
        assert c.get("/api/v1/controls", params={"all": "true"}).json()["controls"] == []
        r = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert r.status_code == 503
    assert fl.app.state.controls.current().for_request(app="bot").kill is None
    assert "control.applied" not in [e["kind"] for e in timeline(fl, inc["id"])]


PLAYBOOKS = [
    ("data_leakage", ["kill_switch"], ["rate_limit"]),
    ("harmful_output", ["guardrail_threshold"], ["prompt_pin"]),
    ("agentic_harm", ["read_only"], ["disable_tool", "disable_tool"]),
    ("prompt_injection", ["rate_limit"], ["guardrail_threshold", "prompt_pin"]),
    ("quality_degradation", ["model_pin"], []),
    ("hallucination", ["prompt_pin"], []),
    ("cost_runaway", ["rate_limit"], []),
]


def test_playbooks_apply_primary_then_all(fl: Fireline) -> None:
    for type_, primary, secondary in PLAYBOOKS:
        inc = declare(fl, type_)
        with fl.client("responder") as c:
            first = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
            assert first.status_code == 201, first.text
            assert [x["kind"] for x in first.json()["controls"]] == primary, type_
            assert all(x["scope"].get("app") == "bot" and x["incident_id"] == inc["id"]
                       for x in first.json()["controls"])
            assert incident(fl, inc["id"])["state"] == "contained"
            both = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={"all": True}).json()["controls"]
            assert [x["kind"] for x in both] == primary + secondary, type_
            enf = fl.app.state.controls.current().for_request(app="bot", user="u", tenant="t")
            if type_ == "quality_degradation":
                assert enf.model is not None and enf.model[1] == "gpt-4o-2024-05-13"  # the previous model
            if type_ == "hallucination":
                assert enf.prompt is not None and enf.prompt[1] == "v11"
            if type_ == "agentic_harm":
                assert set(enf.disabled_tools) == {"issue_refund", "cancel_order"}
            for control in c.get("/api/v1/controls").json()["controls"]:
                assert c.delete(f"/api/v1/controls/{control['id']}").status_code == 200
            assert not fl.app.state.controls.current().for_request(app="bot").active


def test_playbook_needs_an_applicable_action(fl: Fireline) -> None:
    inc = declare(fl, "quality_degradation", apps=["strict"])  # strict has a single model: no rollback
    with fl.client("responder") as c:
        r = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert r.status_code == 422 and "no primary action" in r.json()["detail"]
        assert c.post("/api/v1/incidents/INC-NOPE/playbook", json={}).status_code == 404
    with fl.client("viewer") as c:
        assert c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={}).status_code == 403


@pytest.fixture
def auto_fl(db: Database) -> Iterator[Fireline]:
    config = make_config(auto_contain={"data_leakage": ["P0"], "harmful_output": ["P1"]},
                         playbooks={"harmful_output": {"primary": {"kind": "guardrail_threshold",
                                                                   "params": {"action": "redact"}}}})
    with running(db, config) as server:
        yield server


def test_auto_containment_applies_the_primary_action_on_open(auto_fl: Fireline) -> None:
    p0 = declare(auto_fl, "data_leakage", "P0")
    with auto_fl.client("viewer") as c:
        controls = c.get("/api/v1/controls", params={"incident_id": p0["id"]}).json()["controls"]
    assert [(x["kind"], x["actor"], x["scope"]) for x in controls] == [("kill_switch", "auto-contain", {"app": "bot"})]
    assert incident(auto_fl, p0["id"])["state"] == "contained"
    assert auto_fl.app.state.controls.current().for_request(app="bot").kill is not None
    harmful = declare(auto_fl, "harmful_output", "P1")
    with auto_fl.client("viewer") as c:
        controls = c.get("/api/v1/controls", params={"incident_id": harmful["id"]}).json()["controls"]
    assert [(x["kind"], x["params"]["action"]) for x in controls] == [("guardrail_threshold", "redact")]


def test_no_auto_containment_outside_the_policy(fl: Fireline) -> None:
    p2 = declare(fl, "data_leakage", "P2")
    harmful = declare(fl, "harmful_output", "P1")
    cost = declare(fl, "cost_runaway", "P1")
    with fl.client("viewer") as c:
        for inc in (p2, harmful, cost):
            assert c.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"] == []
    # The default policy: P0 of every type, P1 agentic_harm and data_leakage.
    for type_, severity, kind in (("data_leakage", "P1", "kill_switch"),
                                  ("harmful_output", "P0", "guardrail_threshold"), ("agentic_harm", "P1", "read_only")):
        inc = declare(fl, type_, severity)
        with fl.client("viewer") as c:
            controls = c.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"]
        assert [x["kind"] for x in controls] == [kind], (type_, severity)


def test_contain_twice_applies_nothing_twice(fl: Fireline) -> None:
    """`fireline contain` again (or the playbook from two responders at once) keeps one set of controls:
    the second answer lists the same controls, and no revision, snapshot or timeline entry is added."""
    inc = declare(fl, "harmful_output", "P2")  # outside the auto-containment policy
    with fl.client("responder") as c:
        first = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={"all": True})
        assert first.status_code == 201, first.text
        entries_before = len(timeline(fl, inc["id"]))
        second = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={"all": True})
        assert second.status_code == 201, second.text
        assert sorted(x["id"] for x in second.json()["controls"]) == sorted(x["id"] for x in first.json()["controls"])
        assert second.json()["revision"] == first.json()["revision"]
        assert len(timeline(fl, inc["id"])) == entries_before
        active = c.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"]
        assert sorted(x["kind"] for x in active) == ["guardrail_threshold", "prompt_pin"]
        # the same control by hand: 200 with the one in force, not a duplicate
        guard = next(x for x in active if x["kind"] == "guardrail_threshold")
        # blocks only harmful_output's precise findings (strong terms); weak cues stay flags
        assert guard["params"] == {"action": "block", "detectors": ["harmful_output"], "min_confidence": 0.9}
        body = {"kind": "guardrail_threshold", "scope": guard["scope"], "params": guard["params"],
                "incident_id": inc["id"], "reason": "again"}
        again = c.post("/api/v1/controls", json=body)
        assert again.status_code == 200 and again.json()["existing"] is True
        assert again.json()["id"] in {x["id"] for x in active}
        assert len(c.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"]) == 2


def test_a_control_without_scope_needs_the_global_flag_and_a_reason(fl: Fireline) -> None:
    with fl.client("responder") as c:
        r = c.post("/api/v1/controls", json={"kind": "kill_switch", "reason": "everything is on fire"})
        assert r.status_code == 422 and r.json()["field"] == "scope" and "global" in r.json()["detail"]
        r = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"global": "true"}})
        assert r.status_code == 422 and r.json()["field"] == "reason"
        r = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"global": "true"},
                                             "reason": "every app leaks: provider incident"})
        assert r.status_code == 201 and r.json()["scope"] == {"global": "true"}
    state = fl.app.state.controls.current()
    assert state.for_request(app="bot").kill is not None and state.for_request(app="strict").kill is not None


def test_an_incident_without_apps_is_not_contained_globally_by_its_playbook(fl: Fireline) -> None:
    inc = declare(fl, "harmful_output", "P2", apps=[])
    with fl.client("responder") as c:
        r = c.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert r.status_code == 422 and "global" in r.json()["detail"]
        assert c.get("/api/v1/controls").json()["controls"] == []
