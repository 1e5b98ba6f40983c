"""The public status page: components and their state from open incidents, the public updates,
and nothing internal (notes, internal updates, calls, users, tenants, evidence, titles)."""

from __future__ import annotations

from fireline.db import Database
from tests.comms.support import comms_config, pii_leak, store_calls
from tests.support.fireline import running

SECRET_TITLE = "Cross-tenant leak: acme-tenant sees globex invoices"


def test_status_page_shows_state_and_public_updates_only(db: Database) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]}, {"findings": [pii_leak("PHONE_NUMBER")],
                                                        "tenant": "globex-tenant"}])
    with running(db, comms_config()) as fl, fl.client("responder") as c:
        iid = c.post("/api/v1/incidents", json={"title": SECRET_TITLE, "type": "data_leakage", "severity": "P0",
                                                "apps": ["support-bot"], "tenants": ["acme-tenant"],
                                                "call_ids": ids, "summary": "internal summary zebra"}).json()["id"]
        c.post(f"/api/v1/incidents/{iid}/notes", json={"text": "internal note: rotate key sk-live-123"})
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "internal update: cache bug suspected"})
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

        c.post(f"/api/v1/incidents/{iid}/contain")
        assert {x["name"]: x["status"] for x in fl.client(None).get("/status.json").json()["components"]}[
            "support-bot"] == "degraded"
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Fixed; monitoring.", "public": True})
        c.post(f"/api/v1/incidents/{iid}/resolve")
        c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Resolved.", "public": True})
        body = fl.client(None).get("/status.json").json()
        assert body["status"]["indicator"] == "operational"
        (shown,) = body["incidents"]
        assert shown["status"] == "resolved" and shown["resolved_at"]
        assert [u["status"] for u in shown["updates"]] == ["resolved", "monitoring", "investigating"]


def test_empty_status_page_lists_configured_apps(db: Database) -> None:
    with running(db, comms_config()) as fl, fl.client(None) as anon:
        body = anon.get("/status.json").json()
        assert [x["name"] for x in body["components"]] == ["billing-bot", "support-bot"]
        assert body["incidents"] == [] and body["status"]["description"] == "All systems operational"
        assert "No incidents reported recently." in anon.get("/status").text
