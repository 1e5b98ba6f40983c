"""The incident lifecycle over HTTP: declare, move, roles, severity, notes, metrics, roles of keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.incidents import service
from tests.incidents.helpers import alert, finding, store_calls
from tests.support.fireline import Fireline, running

DECLARE = {"title": "Bot leaks other tenants' orders", "type": "data_leakage", "severity": "P1",
           "apps": ["support-bot"], "tenants": ["acme"]}


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    # The lifecycle by hand: auto-containment (P1 data_leakage by default) would move it first, and
    # the eval-lock gate on closing is tested in tests/evals.
    with running(db, Config.model_validate({"auto_contain": {}, "evals": {"close_requires_lock": False}})) as server:
        yield server


def test_declared_incident_walks_the_whole_lifecycle(fl: Fireline) -> None:
    ids = store_calls(fl.db, [{"findings": [finding()]}, {}])
    with fl.client("responder") as http:
        made = http.post("/api/v1/incidents", json={**DECLARE, "call_ids": ids})
        assert made.status_code == 201, made.text
        inc = made.json()
        iid = inc["id"]
        assert iid.startswith("INC-") and inc["state"] == "acknowledged"
        assert inc["commander"] == fl_key_id(fl, "responder")
        assert inc["owasp"] == ["LLM02", "LLM07", "LLM08"] and inc["nist"] == ["Data Privacy"]
        assert inc["atlas"][0].startswith("AML.T0057") and inc["linked_calls"] == sorted(ids)
        assert inc["sla"]["ack_due_at"] and inc["metrics"]["time_to_acknowledge_s"] == 0
        for action, state in (("contain", "contained"), ("resolve", "resolved"), ("close", "closed")):
            moved = http.post(f"/api/v1/incidents/{iid}/{action}", json={"reason": f"{action} now"})
            assert moved.status_code == 200, moved.text
            assert moved.json()["state"] == state
        final = http.get(f"/api/v1/incidents/{iid}").json()
        kinds = [e["kind"] for e in http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
        checked = http.get(f"/api/v1/incidents/{iid}/verify").json()
        # (a background part may append, e.g. a notification record, between the two reads)
        assert checked["ok"] is True and checked["first_broken"] is None and checked["reason"] is None
        assert checked["entries"] >= len(kinds) and checked["head"]["seq"] == checked["entries"]
    assert final["contained_at"] and final["resolved_at"] and final["closed_at"]
    assert final["metrics"]["time_to_resolve_s"] >= final["metrics"]["time_to_contain_s"] >= 0
    ours = [k for k in kinds if k in ("declared", "state", "snapshot", "hold_released")]  # other parts add theirs
    assert ours == ["declared", "state", "snapshot", "state", "state", "state", "hold_released"]


def fl_key_id(fl: Fireline, role: str) -> str:
    from fireline.auth.service import authenticate

    principal = authenticate(fl.db.sessionmaker, fl.keys[role])
    assert principal is not None
    return principal.key_id


def test_illegal_moves_answer_409_naming_the_allowed_ones(fl: Fireline) -> None:
    iid = service.on_alert_fired(fl.db, alert())
    with fl.client("responder") as http:
        bad = http.post(f"/api/v1/incidents/{iid}/close")
        assert bad.status_code == 409
        assert bad.json()["allowed"] == ["ack", "contain", "false_positive", "merge"]
        assert "detected" in bad.json()["detail"]
        assert http.post(f"/api/v1/incidents/{iid}/false-positive").json()["state"] == "false_positive"
        again = http.post(f"/api/v1/incidents/{iid}/ack")
        assert again.status_code == 409 and again.json()["allowed"] == []
        assert http.post(f"/api/v1/incidents/{iid}/explode").status_code == 404
        assert http.post("/api/v1/incidents/INC-nope/ack").status_code == 404


def test_roles_severity_and_notes_are_recorded(fl: Fireline) -> None:
    with fl.client("responder") as http:
        iid = http.post("/api/v1/incidents", json=DECLARE).json()["id"]
        http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "commander", "who": "dana"})
        http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "commander", "who": "erin",
                                                           "reason": "shift change"})
        http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "comms_lead", "who": "sam"})
        http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "scribe", "who": "lee"})
        for who in ("ann", "bo", "ann"):
            http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "responder", "who": who})
        http.post(f"/api/v1/incidents/{iid}/assign", json={"role": "responder", "who": "bo", "remove": True})
        sev = http.post(f"/api/v1/incidents/{iid}/severity", json={"severity": "P0", "reason": "PII confirmed"})
        no_reason = http.post(f"/api/v1/incidents/{iid}/severity", json={"severity": "P2"})
        bad_sev = http.post(f"/api/v1/incidents/{iid}/severity", json={"severity": "P7", "reason": "x"})
        note = http.post(f"/api/v1/incidents/{iid}/notes", json={"text": "Cache key lacks tenant id",
                                                                 "kind": "hypothesis"})
        inc = http.get(f"/api/v1/incidents/{iid}").json()
        entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
    assert sev.status_code == 200 and inc["severity"] == "P0"
    assert no_reason.status_code == 422 and bad_sev.status_code == 422
    assert note.status_code == 201 and note.json()["kind"] == "hypothesis"
    assert inc["commander"] == "erin"
    assert inc["roles"] == {"commander": "erin", "comms_lead": "sam", "scribe": "lee", "responders": ["ann"]}
    handoffs = [e["data"] for e in entries if e["kind"] == "commander_handoff"]
    assert [(h["from"], h["to"]) for h in handoffs][1] == ("dana", "erin")
    assert handoffs[1]["reason"] == "shift change"
    (change,) = [e for e in entries if e["kind"] == "severity"]
    assert change["data"]["from"] == "P1" and change["data"]["to"] == "P0"
    assert change["data"]["reason"] == "PII confirmed" and change["actor"] == fl_key_id(fl, "responder")


def test_list_filters_and_key_roles(fl: Fireline) -> None:
    a = service.on_alert_fired(fl.db, alert(key="a", severity="P1", type="bias"))
    service.on_alert_fired(fl.db, alert(key="b", type="hallucination", severity="P2", apps=("docs-bot",)))
    with fl.client("viewer") as viewer, fl.client("ingest") as ingest:
        assert len(viewer.get("/api/v1/incidents").json()["incidents"]) == 2
        only = viewer.get("/api/v1/incidents", params={"type": "bias"}).json()["incidents"]
        assert [i["id"] for i in only] == [a]
        assert len(viewer.get("/api/v1/incidents", params={"severity": "P2"}).json()["incidents"]) == 1
        assert len(viewer.get("/api/v1/incidents", params={"state": "detected"}).json()["incidents"]) == 2
        assert len(viewer.get("/api/v1/incidents", params={"app": "docs-bot"}).json()["incidents"]) == 1
        assert viewer.get(f"/api/v1/incidents/{a}/timeline").status_code == 200
        assert viewer.post(f"/api/v1/incidents/{a}/ack").status_code == 403
        assert viewer.post("/api/v1/incidents", json=DECLARE).status_code == 403
        assert viewer.post(f"/api/v1/incidents/{a}/notes", json={"text": "x"}).status_code == 403
        assert ingest.get("/api/v1/incidents").status_code == 403
    with fl.client("responder") as http:
        bad_type = http.post("/api/v1/incidents", json={**DECLARE, "type": "gremlins"})
        assert bad_type.status_code == 422 and "data_leakage" in bad_type.json()["detail"]
        assert http.post("/api/v1/incidents", json={"type": "bias"}).status_code == 422
        # no edit or delete of timeline entries exists
        assert http.delete(f"/api/v1/incidents/{a}/timeline").status_code == 405
        assert http.put(f"/api/v1/incidents/{a}/timeline", json={}).status_code == 405


def test_response_times_are_exported_to_metrics(fl: Fireline) -> None:
    with fl.client("responder") as http:
        iid = http.post("/api/v1/incidents", json={**DECLARE, "severity": "P2", "type": "bias"}).json()["id"]
        http.post(f"/api/v1/incidents/{iid}/contain")
        http.post(f"/api/v1/incidents/{iid}/resolve")
        text = http.get("/metrics").text
    for name in ("acknowledge", "contain", "resolve"):
        assert f'fireline_incident_time_to_{name}_seconds_count{{severity="P2",type="bias"}}' in text
    assert 'fireline_incidents_opened_total{severity="P2",source="declared",type="bias"}' in text


def test_linking_calls_names_ids_that_are_not_stored_and_links_nothing(fl: Fireline) -> None:
    (stored,) = store_calls(fl.db, [{}])
    with fl.client("responder") as http:
        iid = http.post("/api/v1/incidents", json=DECLARE).json()["id"]
        typo = http.post(f"/api/v1/incidents/{iid}/calls", json={"call_ids": [stored, "call-does-not-exist"]})
        blank = http.post(f"/api/v1/incidents/{iid}/calls", json={"call_ids": [""]})
        after_refusal = http.get(f"/api/v1/incidents/{iid}").json()
        ok = http.post(f"/api/v1/incidents/{iid}/calls", json={"call_ids": [stored, stored]})
        again = http.post(f"/api/v1/incidents/{iid}/calls", json={"call_ids": [stored]})
        entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
    assert typo.status_code == 422 and typo.json()["field"] == "call_ids"
    assert "'call-does-not-exist'" in typo.json()["detail"] and repr(stored) not in typo.json()["detail"]
    assert blank.status_code == 422 and blank.json()["field"] == "call_ids"
    assert after_refusal["linked_calls"] == []  # the known id of the refused request was not linked either
    assert ok.status_code == 200 and ok.json()["linked"] == 1 and ok.json()["incident"]["linked_calls"] == [stored]
    assert again.json()["linked"] == 0
    assert [e["data"]["call_ids"] for e in entries if e["kind"] == "calls_linked"] == [[stored, stored]]
