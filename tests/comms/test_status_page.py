"""The public status page, by decision: only public apps, their state changed by public updates,
`fireline status set`, or (for apps that allow it) incidents a person confirmed; the public updates;
nothing internal (notes, internal updates, calls, users, tenants, evidence, titles)."""

from __future__ import annotations

from typing import Any

import httpx

from fireline.db import Database
from tests.comms.support import comms_config, pii_leak, store_calls
from tests.support.cli import invoke
from tests.support.fireline import running

SECRET_TITLE = "Cross-tenant leak: acme-tenant sees globex invoices"
PUBLIC = {"support-bot": {"public": True}, "billing-bot": {"public": True}, "internal-bot": {}}


def states_of(anon: httpx.Client) -> dict[str, str]:
    return {x["name"]: x["status"] for x in anon.get("/status.json").json()["components"]}


def test_status_page_shows_state_and_public_updates_only(db: Database) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]}, {"findings": [pii_leak("PHONE_NUMBER")],
                                                        "tenant": "globex-tenant"}])
    with running(db, comms_config(apps=PUBLIC)) as fl, fl.client("responder") as c:
        iid = c.post("/api/v1/incidents", json={"title": SECRET_TITLE, "type": "data_leakage", "severity": "P0",
                                                "apps": ["support-bot"], "tenants": ["acme-tenant"],
                                                "call_ids": ids, "summary": "internal summary zebra"}).json()["id"]
        c.post(f"/api/v1/incidents/{iid}/notes", json={"text": "internal note: rotate key sk-live-123"})
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "internal update: cache bug suspected"})
        with fl.client(None) as anon:  # an open P0, but nobody decided to tell the public yet
            assert states_of(anon) == {"support-bot": "operational", "billing-bot": "operational"}
            assert anon.get("/status.json").json()["incidents"] == []
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Some answers are temporarily unavailable.",
                                                          "public": True})
        with fl.client(None) as anon:
            page = anon.get("/status.json")
            html = anon.get("/status")
        assert page.status_code == 200 and html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        body = page.json()
        states = {x["name"]: x["status"] for x in body["components"]}
        assert states == {"support-bot": "major_outage", "billing-bot": "operational"}
        assert body["status"]["indicator"] == "major_outage"
        (shown,) = body["incidents"]
        assert shown["status"] == "investigating" and shown["components"] == ["support-bot"]
        assert [u["message"] for u in shown["updates"]] == ["Some answers are temporarily unavailable."]
        assert "Some answers are temporarily unavailable." in html.text and "Major outage" in html.text

        with db.session() as s:
            from fireline.calls.models import Call, CallFinding

            pseudonyms = [p for (p,) in s.query(Call.user_pseudonym).all()]
            evidence = [e for (e,) in s.query(CallFinding.evidence).all()]
        forbidden = [SECRET_TITLE, "internal summary zebra", "internal note", "sk-live-123", "internal update",
                     "cache bug", iid, *ids, "acme-tenant", "globex-tenant", *pseudonyms, *evidence, "pii_leak",
                     "EMAIL_ADDRESS", "data_leakage", "P0"]
        for text in (page.text, html.text):
            for needle in forbidden:
                assert needle not in text, f"{needle!r} leaked to the status page"

        c.post(f"/api/v1/incidents/{iid}/contain")  # no public update yet: the page keeps what was decided
        assert states_of(fl.client(None))["support-bot"] == "major_outage"
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Fixed; monitoring.", "public": True})
        assert states_of(fl.client(None))["support-bot"] == "degraded"  # the impact of a contained P0
        c.post(f"/api/v1/incidents/{iid}/resolve")
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Resolved.", "public": True})
        body = fl.client(None).get("/status.json").json()
        assert body["status"]["indicator"] == "operational"
        (shown,) = body["incidents"]
        assert shown["status"] == "resolved" and shown["resolved_at"]
        assert [u["status"] for u in shown["updates"]] == ["resolved", "monitoring", "investigating"]


def test_empty_status_page_lists_only_public_apps(db: Database) -> None:
    with running(db, comms_config(apps=PUBLIC)) as fl, fl.client(None) as anon:
        body = anon.get("/status.json").json()
        assert [x["name"] for x in body["components"]] == ["billing-bot", "support-bot"]  # not internal-bot, drill
        assert body["incidents"] == [] and body["status"]["description"] == "All systems operational"
        assert "No incidents reported recently." in anon.get("/status").text


def test_state_changes_only_by_decision(db: Database) -> None:
    """An unconfirmed Alertmanager P0 changes nothing; an app that allows automatic state shows a
    confirmed incident; `fireline status set` holds until a later public update; internal apps never
    show, not even through a public update."""
    apps: dict[str, Any] = {"support-bot": {"public": True, "public_status": "automatic"},
                            "billing-bot": {"public": True}, "internal-bot": {}}
    with running(db, comms_config(apps=apps)) as fl, fl.client("responder") as c, fl.client(None) as anon:
        for app in ("support-bot", "billing-bot", "internal-bot"):
            fl.db.bus.publish("alert.fired", db=fl.db, alert=_alert(app))
        incs = {i["apps"][0]: i["id"] for i in c.get("/api/v1/incidents").json()["incidents"]}
        assert len(incs) == 3
        assert states_of(anon) == {"support-bot": "operational", "billing-bot": "operational"}
        for iid in incs.values():
            assert c.post(f"/api/v1/incidents/{iid}/ack").status_code == 200
        # confirmed: the automatic app shows it by itself, the manual one waits for a decision
        assert states_of(anon) == {"support-bot": "major_outage", "billing-bot": "operational"}

        code, out = invoke(fl, "responder", "status", "set", "billing-bot", "partial_outage", "-m", "Slow invoices")
        assert code == 0 and "partial_outage" in out
        assert states_of(anon)["billing-bot"] == "partial_outage"
        r = c.post(f"/api/v1/incidents/{incs['billing-bot']}/updates",
                   json={"message": "Invoices are slow.", "public": True, "impact": "degraded"})
        assert r.status_code == 201 and r.json()["impact"] == "degraded"
        assert states_of(anon)["billing-bot"] == "degraded"  # the later decision wins
        assert c.post(f"/api/v1/incidents/{incs['billing-bot']}/updates",
                      json={"message": "x", "impact": "degraded"}).status_code == 422  # internal: no impact
        c.post(f"/api/v1/incidents/{incs['internal-bot']}/updates", json={"message": "Internal tool down.",
                                                                          "public": True})
        page = anon.get("/status.json").json()
        assert "internal-bot" not in anon.get("/status.json").text and "internal-bot" not in anon.get("/status").text
        assert [i["components"] for i in page["incidents"]] == [["billing-bot"]]
        assert c.post("/api/v1/status/components/internal-bot", json={"status": "degraded"}).status_code == 422
        assert c.post("/api/v1/status/components/billing-bot", json={"status": "on fire"}).status_code == 422
        shown = {x["name"]: x for x in c.get("/api/v1/status/components").json()["components"]}
        assert shown["billing-bot"]["source"] == "public_update" and shown["support-bot"]["source"] == "automatic"


def _alert(app: str) -> Any:
    from tests.incidents.helpers import alert

    return alert(key=f"am:{app}", source="alertmanager", title="HighErrorRate", type="availability",
                 severity="P0", apps=(app,), tenants=())


def _declare(c: httpx.Client, app: str, severity: str = "P1") -> str:
    r = c.post("/api/v1/incidents", json={"title": f"{app} trouble", "type": "availability",
                                          "severity": severity, "apps": [app]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _say(c: httpx.Client, iid: str, message: str, **extra: Any) -> None:
    r = c.post(f"/api/v1/incidents/{iid}/updates", json={"message": message, "public": True, **extra})
    assert r.status_code == 201, r.text


def test_resolving_or_merging_changes_nothing_in_public_by_itself(db: Database) -> None:
    """What the public was told holds after the incident is resolved (or merged into another) until
    a public update says otherwise; only an app whose policy is automatic leaves the page on resolve."""
    apps: dict[str, Any] = {"support-bot": {"public": True},
                            "billing-bot": {"public": True, "public_status": "automatic"}}
    with running(db, comms_config(apps=apps)) as fl, fl.client("responder") as c, fl.client(None) as anon:
        told, auto = _declare(c, "support-bot"), _declare(c, "billing-bot")
        c.post(f"/api/v1/incidents/{auto}/ack")
        _say(c, told, "Some answers are slow.", impact="degraded")
        assert states_of(anon) == {"support-bot": "degraded", "billing-bot": "degraded"}
        for iid in (told, auto):
            assert c.post(f"/api/v1/incidents/{iid}/resolve").status_code == 200
        assert states_of(anon) == {"support-bot": "degraded", "billing-bot": "operational"}
        (shown,) = anon.get("/status.json").json()["incidents"]
        assert shown["status"] == "investigating" and shown["resolved_at"] is None  # as announced
        _say(c, told, "Resolved: answers are fast again.")
        assert states_of(anon)["support-bot"] == "operational"
        (shown,) = anon.get("/status.json").json()["incidents"]
        assert shown["status"] == "resolved" and shown["impact"] == "none" and shown["resolved_at"]

        # Merged: the announcement of the merged incident counts for the one that carries on.
        first, second = _declare(c, "support-bot"), _declare(c, "support-bot")
        _say(c, first, "Answers are failing for many users.", impact="partial_outage")
        r = c.post(f"/api/v1/incidents/{first}/merge", json={"into": second, "reason": "same outage"})
        assert r.status_code == 200, r.text
        assert states_of(anon)["support-bot"] == "partial_outage"
        assert c.post(f"/api/v1/incidents/{second}/resolve").status_code == 200
        assert states_of(anon)["support-bot"] == "partial_outage"
        _say(c, second, "Fixed.")
        assert states_of(anon)["support-bot"] == "operational"
