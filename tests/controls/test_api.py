"""The controls API on a running server: apply, validate, list, revert, expire, roles, revisions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.fireline import Fireline

VALID: list[dict[str, Any]] = [
    {"kind": "kill_switch", "scope": {"app": "bot"}, "params": {"message": "Back soon."}},
    {"kind": "model_pin", "scope": {"app": "bot"}, "params": {"model": "gpt-4o-2024-05-13"}},
    {"kind": "prompt_pin", "scope": {"app": "bot"}, "params": {"version": "v11"}},
    {"kind": "disable_tool", "scope": {"app": "bot", "tool": "issue_refund"}},
    {"kind": "read_only", "scope": {"app": "bot", "tenant": "acme"}},
    {"kind": "rate_limit", "scope": {"app": "bot"}, "params": {"per_minute": 30, "key": "tenant"}},
    {"kind": "guardrail_threshold", "scope": {"app": "bot"},
     "params": {"detectors": ["pii"], "action": "redact", "min_severity": "P2"}},
    {"kind": "block_pattern", "scope": {"app": "bot"}, "params": {"pattern": r"ssn:\s*\d+", "on": "output"}},
]

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"kind": "model_pin", "scope": {"app": "bot"}, "params": {"model": "gpt-5"}}, "params.model"),
    ({"kind": "model_pin", "params": {"model": "gpt-4o-mini"}}, "scope"),
    ({"kind": "model_pin", "scope": {"global": "true"}, "params": {"model": "gpt-4o-mini"}}, "reason"),
    ({"kind": "model_pin", "scope": {"global": "true"}, "params": {"model": "gpt-4o-mini"}, "reason": "x"},
     "scope.app"),
    ({"kind": "kill_switch", "scope": {"global": "true"}}, "reason"),
    ({"kind": "kill_switch", "scope": {"global": "true", "app": "bot"}, "reason": "x"}, "scope.global"),
    ({"kind": "kill_switch", "reason": "everything"}, "scope"),
    ({"kind": "prompt_pin", "scope": {"app": "bot"}, "params": {"version": "v99"}}, "params.version"),
    ({"kind": "block_pattern", "scope": {"app": "bot"}, "params": {"pattern": "(unclosed", "on": "input"}},
     "params.pattern"),
    ({"kind": "block_pattern", "scope": {"app": "bot"}, "params": {"pattern": "x", "on": "sideways"}},
     "params.on"),
    # RE2 only (linear time): lookarounds and backreferences are refused, naming the field
    ({"kind": "block_pattern", "scope": {"app": "bot"}, "params": {"pattern": r"(?=a)a+", "on": "input"}},
     "params.pattern"),
    ({"kind": "block_pattern", "scope": {"app": "bot"}, "params": {"pattern": r"(a)\1", "on": "input"}},
     "params.pattern"),
    ({"kind": "rate_limit", "scope": {"app": "bot"}, "params": {"per_minute": 0}}, "params.per_minute"),
    ({"kind": "rate_limit", "scope": {"app": "bot"}, "params": {"per_minute": 5, "key": "ip"}}, "params.key"),
    ({"kind": "guardrail_threshold", "scope": {"app": "bot"}, "params": {"action": "shrug"}}, "params.action"),
    ({"kind": "guardrail_threshold", "scope": {"app": "bot"}, "params": {"min_severity": "high"}},
     "params.min_severity"),
    ({"kind": "disable_tool", "scope": {"app": "bot"}}, "scope.tool"),
    ({"kind": "kill_switch", "scope": {"region": "eu"}}, "scope.region"),
    ({"kind": "self_destruct"}, "kind"),
    ({"kind": "kill_switch", "scope": {"app": "bot"}, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
]


def test_each_kind_applies_and_is_listed_active(fl: Fireline) -> None:
    ids = []
    with fl.client("responder") as c:
        for body in VALID:
            r = c.post("/api/v1/controls", json={**body, "reason": "test"})
            assert r.status_code == 201, (body["kind"], r.text)
            out = r.json()
            assert out["id"].startswith("ctl_") and out["active"] is True
            assert out["kind"] == body["kind"] and out["reason"] == "test"
            assert out["revision"] == len(ids) + 1
            ids.append(out["id"])
        listed = c.get("/api/v1/controls").json()
    assert sorted(x["id"] for x in listed["controls"]) == sorted(ids) and listed["revision"] == len(ids)
    enf = fl.app.state.controls.current().for_request(app="bot", tenant="acme")
    assert enf.kill and enf.model and enf.prompt and enf.read_only and enf.rate_limits and enf.guardrails
    assert enf.block_patterns and set(enf.disabled_tools) == {"issue_refund", "cancel_order"}


def test_invalid_controls_get_422_naming_the_field(fl: Fireline) -> None:
    with fl.client("responder") as c:
        for body, field in INVALID:
            r = c.post("/api/v1/controls", json=body)
            assert r.status_code == 422, (field, r.text)
            assert r.json()["field"] == field and field in r.json()["detail"], r.json()
        assert c.get("/api/v1/controls", params={"all": "true"}).json()["controls"] == []


def test_roles_viewer_lists_responder_applies_only_admin_injects(fl: Fireline) -> None:
    inject = {"kind": "inject", "scope": {"app": "bot"}, "params": {"output": "scripted", "cohort": "drill"}}
    with fl.client("viewer") as viewer, fl.client("responder") as responder, fl.client("admin") as admin:
        assert viewer.post("/api/v1/controls", json=VALID[0]).status_code == 403
        assert viewer.get("/api/v1/controls").status_code == 200
        assert responder.post("/api/v1/controls", json=inject).status_code == 403
        created = admin.post("/api/v1/controls", json=inject)
        assert created.status_code == 201
        assert viewer.delete(f"/api/v1/controls/{created.json()['id']}").status_code == 403
    with fl.client("ingest") as ingest:
        assert ingest.get("/api/v1/controls").status_code == 403
    with fl.client(None) as anonymous:
        assert anonymous.get("/api/v1/controls").status_code == 401


def test_revert_restores_previous_behaviour_and_bumps_revision(fl: Fireline) -> None:
    book = fl.app.state.controls
    with fl.client("responder") as c:
        pin = c.post("/api/v1/controls", json=VALID[1]).json()
        kill = c.post("/api/v1/controls", json=VALID[0]).json()
        assert kill["revision"] == pin["revision"] + 1
        enf = book.current().for_request(app="bot")
        assert enf.kill is not None and enf.model[1] == "gpt-4o-2024-05-13"
        r = c.delete(f"/api/v1/controls/{kill['id']}", params={"reason": "false alarm"})
        assert r.status_code == 200
        out = r.json()
        assert out["active"] is False and out["revision"] == kill["revision"] + 1
        assert out["reverted_by"] and out["revert_reason"] == "false alarm"
        # the very next request in this process sees the model pin alone again
        enf = book.current().for_request(app="bot")
        assert enf.kill is None and enf.model[1] == "gpt-4o-2024-05-13"
        assert book.current().revision == out["revision"]
        assert c.delete(f"/api/v1/controls/{kill['id']}").status_code == 409
        assert c.delete("/api/v1/controls/ctl_nope").status_code == 404
        active = c.get("/api/v1/controls").json()["controls"]
        assert [x["id"] for x in active] == [pin["id"]]
        history = c.get("/api/v1/controls", params={"all": "true"}).json()["controls"]
        assert {x["id"] for x in history} == {pin["id"], kill["id"]}
        assert c.get(f"/api/v1/controls/{kill['id']}").json()["active"] is False


def test_expiry_reverts_by_itself_with_actor_expiry(fl: Fireline) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=1500)
    with fl.client("responder") as c:
        out = c.post("/api/v1/controls", json={**VALID[0], "expires_at": soon.isoformat()}).json()
        # In force until it expires: asked as of a moment before the expiry, so that a POST slowed
        # down by a loaded machine cannot make this look expired already.
        before_expiry = soon - timedelta(milliseconds=1)
        assert fl.app.state.controls.current().for_request(app="bot", now=before_expiry).kill is not None
        deadline = time.monotonic() + 10
        row = out
        while time.monotonic() < deadline:
            row = c.get(f"/api/v1/controls/{out['id']}").json()
            if row["reverted_by"]:
                break
            time.sleep(0.05)
        assert row["reverted_by"] == "expiry" and row["active"] is False
        assert row["reverted_revision"] == out["revision"] + 1
        assert c.get("/api/v1/controls").json()["controls"] == []
        assert fl.app.state.controls.current().for_request(app="bot").kill is None


def test_unknown_incident_is_rejected(fl: Fireline) -> None:
    with fl.client("responder") as c:
        r = c.post("/api/v1/controls", json={**VALID[0], "incident_id": "INC-NOPE"})
        assert r.status_code == 404 and r.json()["field"] == "incident_id"
        assert c.get("/api/v1/controls", params={"all": "true"}).json()["controls"] == []


def test_registry_exposes_models_and_prompt_hashes(fl: Fireline) -> None:
    with fl.client("viewer") as c:
        bot = c.get("/api/v1/controls/registry").json()["apps"]["bot"]
    assert bot["current_model"] == "gpt-4o-2024-08-06"
    assert [p["version"] for p in bot["prompts"]] == ["v12", "v11"]
    assert all(len(p["sha256"]) == 64 for p in bot["prompts"])
