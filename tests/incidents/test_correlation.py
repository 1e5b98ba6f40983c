"""One event, one incident: alerts about the same calls, or of one family on one app, join one
incident; the highest severity wins; the others are related alerts on its timeline; drills and
tenants' own incidents stay apart; a responder links or merges incidents (API and CLI)."""

from __future__ import annotations

import threading
from typing import Any

from fireline.db import Database
from fireline.incidents import service
from fireline.incidents.models import Incident, IncidentDedup
from fireline.incidents.timeline import entries, verify
from tests.incidents.helpers import alert, finding, store_calls
from tests.support.cli import invoke
from tests.support.fireline import running


def incident(db: Database, iid: str) -> Incident:
    with db.session() as s:
        return service.get_incident(s, iid)


def kinds(db: Database, iid: str) -> list[str]:
    with db.session() as s:
        return [e.kind for e in entries(s, iid)]


def leaked_calls(db: Database, n: int = 3, start: int = 0, **over: Any) -> list[str]:
    canary = finding(None, kind="canary_leak", detector="canary")  # type: ignore[arg-type]
    return store_calls(db, [{"id": f"leak-{start + i}", "tenant": ("acme", "umbrella")[i % 2],
                             "findings": [canary, finding()], **over} for i in range(n)])


def canary_alert(ids: list[str], **over: Any) -> Any:
    return alert(**{"key": "monitor:canary_leak:app=support-bot", "title": "Canary served", "severity": "P0",
                    "signal": "canary", "monitor": "canary_leak", "call_ids": tuple(ids),
                    "details": {"group": "app=support-bot", "condition": "any"}, **over})


def pii_alert(ids: list[str], **over: Any) -> Any:
    return alert(**{"key": "monitor:pii_secret_leak:app=support-bot", "title": "PII in outputs", "severity": "P1",
                    "signal": "pii,secrets", "monitor": "pii_secret_leak", "call_ids": tuple(ids),
                    "details": {"group": "app=support-bot", "condition": "any"}, **over})


def test_two_detectors_on_the_same_leak_make_one_incident_the_highest_severity_wins(db: Database) -> None:
    ids = leaked_calls(db)
    pii_only = store_calls(db, [{"id": f"pii-{i}", "findings": [finding()]} for i in range(2)])
    escalated: list[dict[str, Any]] = []
    handler = lambda **kw: escalated.append(kw)  # noqa: E731
    db.bus.subscribe("incident.escalated", handler)
    try:
        first = service.on_alert_fired(db, pii_alert(pii_only))  # the P1 monitor fires first
        second = service.on_alert_fired(db, canary_alert(ids))  # the canary joins and raises it to P0
        again = service.on_alert_fired(db, pii_alert(ids[2:]))  # the PII monitor again: same incident
    finally:
        db.bus.unsubscribe("incident.escalated", handler)
    assert first == second == again
    inc = incident(db, first)
    assert inc.severity == "P0" and inc.type == "data_leakage"
    assert [e["severity"] for e in escalated] == ["P0"] and escalated[0]["incident_id"] == first
    assert kinds(db, first).count("related_alert") == 1 and "severity" in kinds(db, first)
    with db.session() as s:
        related = next(e for e in entries(s, first) if e.kind == "related_alert")
        assert related.data["correlated_by"] == "family" and related.data["title"] == "Canary served"
        held = {r.dedup_key for r in s.query(IncidentDedup).filter_by(incident_id=first)}
        assert verify(s, first).ok
    assert {"monitor:canary_leak:app=support-bot", "monitor:pii_secret_leak:app=support-bot"} <= held
    with db.session() as s:
        assert s.query(Incident).count() == 1


def test_the_same_family_on_the_same_app_joins_without_shared_calls(db: Database) -> None:
    """An external PagerDuty alert about a leak on support-bot joins the open leak incident."""
    ids = leaked_calls(db)
    iid = service.on_alert_fired(db, canary_alert(ids))
    ext = service.on_alert_fired(db, alert(key="pd:abc", source="pagerduty", title="Customer reports leak",
                                           severity="P1", tenants=("acme",)))
    other_app = service.on_alert_fired(db, alert(key="pd:def", source="pagerduty", apps=("docs-bot",)))
    other_type = service.on_alert_fired(db, alert(key="pd:ghi", source="pagerduty", type="hallucination"))
    assert ext == iid and other_app != iid and other_type != iid
    assert incident(db, iid).severity == "P0"  # a lower related severity changes nothing


def test_tenants_own_incidents_stay_apart(db: Database) -> None:
    """Monitors grouped by tenant: two tenants' alerts are two incidents; the same tenant's join."""
    def by_tenant(tenant: str, key: str) -> Any:
        return alert(key=f"monitor:{key}:app=support-bot,tenant={tenant}", type="capability_loss",
                     tenants=(tenant,), details={"group": f"app=support-bot,tenant={tenant}"})
    a = service.on_alert_fired(db, by_tenant("acme", "refusal_rate"))
    b = service.on_alert_fired(db, by_tenant("globex", "refusal_rate"))
    c = service.on_alert_fired(db, by_tenant("acme", "thumbs_down_rate"))
    assert a != b and c == a


def test_a_drill_never_joins_a_real_incident(db: Database) -> None:
    real = leaked_calls(db, 2)
    drill = leaked_calls(db, 2, start=10, metadata={"cohort": "drill-data_leak-abc123"})
    r = service.on_alert_fired(db, canary_alert(real))
    d = service.on_alert_fired(db, canary_alert(drill))
    mixed = service.on_alert_fired(db, pii_alert([*drill, *real]))
    assert r != d and mixed == r  # a real call among them: real
    assert incident(db, d).drill is True and incident(db, r).drill is False


def test_racing_related_alerts_open_one_incident(db: Database) -> None:
    got: list[str | None] = []

    def fire(i: int) -> None:
        got.append(service.on_alert_fired(db, alert(key=f"monitor:m{i}:app=support-bot", title=f"m{i}",
                                                    details={"group": "app=support-bot"})))
    threads = [threading.Thread(target=fire, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and None not in got
    assert kinds(db, got[0]).count("related_alert") == 5


def test_link_and_merge_by_api_and_cli(db: Database) -> None:
    ids = leaked_calls(db, 2)
    with running(db) as fl, fl.client("responder") as c:
        a = service.on_alert_fired(db, canary_alert(ids[:1], severity="P1"))
        b = service.on_alert_fired(db, alert(key="pd:x", source="pagerduty", apps=("docs-bot",), severity="P0",
                                             call_ids=(ids[1],)))
        h = service.on_alert_fired(db, alert(key="pd:y", type="hallucination", apps=("kb-bot",)))
        r = c.post(f"/api/v1/incidents/{a}/links", json={"other": h, "reason": "same deploy"})
        assert r.status_code == 201
        assert [(x["id"], x["kind"], x["reason"]) for x in r.json()["links"]] == [(h, "related", "same deploy")]
        assert c.post(f"/api/v1/incidents/{a}/links", json={"other": h}).status_code == 201  # idempotent
        assert c.get(f"/api/v1/incidents/{h}").json()["related"] == [{"id": a, "kind": "related"}]
        assert c.post(f"/api/v1/incidents/{a}/links", json={"other": a}).status_code == 422
        assert c.post(f"/api/v1/incidents/{a}/links", json={"other": "INC-nope"}).status_code == 404

        assert c.post(f"/api/v1/incidents/{b}/merge", json={"into": a}).status_code == 422  # reason needed
        merged = c.post(f"/api/v1/incidents/{b}/merge", json={"into": a, "reason": "one leak, two pages"})
        assert merged.status_code == 200, merged.text
        survivor = merged.json()
        assert survivor["id"] == a and survivor["severity"] == "P0"  # the highest severity wins
        assert set(survivor["linked_calls"]) == set(ids) and "docs-bot" in survivor["apps"]
        gone = c.get(f"/api/v1/incidents/{b}").json()
        assert gone["state"] == "merged" and gone["merged_into"] == a
        assert {"id": a, "kind": "merged_into"} in gone["related"]
        assert {"id": b, "kind": "merged_from"} in survivor["related"]
        assert c.post(f"/api/v1/incidents/{b}/merge", json={"into": a, "reason": "x"}).status_code == 409
        # the merged incident's key now answers for the survivor
        assert service.on_alert_fired(db, alert(key="pd:x", source="pagerduty", apps=("docs-bot",))) == a
        for iid in (a, b, h):
            assert c.get(f"/api/v1/incidents/{iid}/verify").json()["ok"] is True
        assert "merged" in kinds(db, a) and "merged" in kinds(db, b)
        assert "related" in kinds(db, a) and "related" in kinds(db, h)

        x = service.on_alert_fired(db, alert(key="pd:z", apps=("shop-bot",), type="bias"))
        y = service.on_alert_fired(db, alert(key="pd:w", apps=("shop-bot-2",), type="bias"))
        assert x and y
        code, output = invoke(fl, "responder", "incident", "link", x, y, "--reason", "same tenant complaint")
        assert code == 0 and y in output
        code, output = invoke(fl, "responder", "incident", "merge", y, "--into", x, "--reason", "duplicate")
        assert code == 0 and "merged into" in output
        assert incident(db, y).state == "merged" and incident(db, y).merged_into == x
        code, output = invoke(fl, "responder", "incident", "merge", y, "--into", x, "--reason", "again")
        assert code == 1 and "merged" in output
        code, output = invoke(fl, "viewer", "incident", "show", x)
        assert code == 0 and f"{y} (merged from)" in output


def test_a_merge_moves_the_merged_incidents_controls(db: Database) -> None:
    """Two leak incidents on one app, each auto-contained with a kill switch, plus a tool disabled
    for the first. Merged: the first incident's controls belong to the one that carries on (its page
    lists them), the duplicate kill switch is reverted (one stays in force, the gateway state holds),
    containing again adds nothing, and both timelines say what moved."""
    with running(db) as fl, fl.client("responder") as c, fl.client("admin") as admin:
        a, b = (c.post("/api/v1/incidents", json={"title": t, "type": "data_leakage", "severity": "P1",
                                                  "apps": ["support-bot"]}).json()["id"]
                for t in ("Leak seen by tenant A", "Leak seen by tenant B"))

        def of(iid: str) -> dict[str, Any]:
            return {x["id"]: x for x in c.get("/api/v1/controls", params={"incident_id": iid, "all": "true"})
                    .json()["controls"]}
        (kill_a,), (kill_b,) = of(a), of(b)  # auto-containment: one kill switch each
        r = admin.post("/api/v1/controls", json={"kind": "disable_tool", "scope": {"app": "support-bot"},
                                                 "params": {"tool": "export_invoices"}, "incident_id": a,
                                                 "reason": "leak"})
        assert r.status_code == 201, r.text
        tool = r.json()["id"]
        assert c.post(f"/api/v1/incidents/{a}/merge", json={"into": b, "reason": "one leak"}).status_code == 200
        assert set(of(b)) == {kill_a, kill_b, tool} and of(a) == {}
        active = {x["id"] for x in c.get("/api/v1/controls").json()["controls"]}
        assert active == {kill_b, tool}  # the duplicate kill switch is reverted, the survivor's holds
        assert "duplicate after merging" in of(b)[kill_a]["revert_reason"]
        assert admin.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "support-bot"},
                                                    "incident_id": b, "reason": "again"}).json()["id"] == kill_b
        assert {x["id"] for x in c.get("/api/v1/controls").json()["controls"]} == active
        moved = [e for e in c.get(f"/api/v1/incidents/{b}/timeline").json()["entries"] if e["kind"] == "controls.moved"]
        assert len(moved) == 1 and f"moved 2 control(s) here from merged incident {a}" in moved[0]["text"]
        assert any(e["kind"] == "controls.moved" for e in c.get(f"/api/v1/incidents/{a}/timeline").json()["entries"])
        for iid in (a, b):
            assert c.get(f"/api/v1/incidents/{iid}/verify").json()["ok"] is True
