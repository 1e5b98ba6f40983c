"""The generated post-mortem: every section from the record, Markdown and HTML, root cause and
action items by API, the five-business-day due date and the overdue flag."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete

from fireline.calls.models import CallRaw
from fireline.comms.delivery import Runtime
from fireline.db import Database, utcnow
from fireline.postmortems.service import add_business_days
from fireline.signals import Alert
from tests.comms.support import T0, comms_config, pii_leak, store_calls
from tests.support.fireline import running


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_business_days_skip_weekends() -> None:
    assert add_business_days(date(2026, 11, 20), 5) == date(2026, 11, 27)  # Friday -> next Friday
    assert add_business_days(date(2026, 11, 21), 5) == date(2026, 11, 27)  # Saturday -> Friday
    assert add_business_days(date(2026, 11, 23), 5) == date(2026, 11, 30)  # Monday -> next Monday


def test_postmortem_from_the_record(db: Database) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]},
                           {"findings": [pii_leak()], "model": None, "model_resolved": None},
                           {"findings": [pii_leak("PHONE_NUMBER")], "input": [{"role": "user", "content": "Hi"}]}])
    with db.writing() as s:  # retention purged the raw content of one call
        s.execute(delete(CallRaw).where(CallRaw.call_id == ids[2]))
    config = comms_config(detectors={"canary": {"enabled": False}})
    with running(db, config) as fl, fl.client("responder") as c:
        db.bus.publish_strict("alert.fired", db=db, alert=Alert(
            dedup_key="pii:support-bot", source="monitor", title="PII in outputs", type="data_leakage",
            severity="P0", at=utcnow() - timedelta(minutes=2), apps=("support-bot",), call_ids=tuple(ids),
            tenants=("acme-tenant",), monitor="pii-any", signal="pii"))
        (inc,) = c.get("/api/v1/incidents").json()["incidents"]
        iid = inc["id"]
        for step in ("ack", "contain", "resolve"):
            assert c.post(f"/api/v1/incidents/{iid}/{step}").status_code == 200
        rc = c.put(f"/api/v1/incidents/{iid}/root-cause", json={
            "category": "data", "factors": ["retrieval index not partitioned by tenant", "no output PII filter"],
            "summary": "A shared vector index served other customers' tickets.",
            "whys": ["Answers showed other customers' tickets", "Retrieval returned other tenants' documents",
                     "The index had no tenant filter", "The filter was dropped in a refactor",
                     "No test covered tenant isolation"],
            "remediation": ["Partition the index by tenant"], "prevention": "Tenant-isolation eval in CI"})
        assert rc.status_code == 200 and rc.json()["category"] == "data"
        assert rc.json()["whys"][0].startswith("Answers showed") and len(rc.json()["whys"]) == 5
        legacy = c.put(f"/api/v1/incidents/{iid}/root-cause", json={**rc.json() | {"category": "config"},
                                                                    "updated_at": None, "updated_by": None})
        assert legacy.status_code == 422  # read-only fields are refused by name
        old = {k: v for k, v in rc.json().items() if k not in ("updated_at", "updated_by", "incident_id")}
        assert c.put(f"/api/v1/incidents/{iid}/root-cause", json={**old, "category": "config"}
                     ).json()["category"] == "configuration"  # the first short names are still understood
        assert c.put(f"/api/v1/incidents/{iid}/root-cause", json={**old, "regression_test": "lock-nope"}
                     ).status_code == 422
        assert c.put(f"/api/v1/incidents/{iid}/root-cause", json=old).status_code == 200
        assert c.put(f"/api/v1/incidents/{iid}/root-cause", json={"category": "luck"}).status_code == 422
        a = c.post(f"/api/v1/incidents/{iid}/actions", json={"title": "Partition the index by tenant",
                                                             "owner": "dana", "due": "2026-12-04"})
        assert a.status_code == 201 and a.json()["status"] in ("open", "overdue")
        assert c.post(f"/api/v1/incidents/{iid}/actions", json={"title": "x", "owner": "dana",
                                                                "due": "soon"}).status_code == 422

        pm = c.get(f"/api/v1/incidents/{iid}/postmortem").json()
        resolved = parse(pm["summary"]["resolved_at"])
        assert pm["summary"]["type"] == "data_leakage" and "LLM02" in pm["summary"]["owasp"]
        marks = {m["key"]: m.get("at") for m in pm["timeline"]["milestones"]}
        assert parse(marks["first_occurrence"]) == T0
        assert marks["monitor_fired"] and marks["detected"] and marks["acknowledged"] and marks["contained"]
        assert parse(marks["resolved"]) == resolved
        assert pm["impact"]["users"] == 3 and pm["impact"]["calls"] == 3 and pm["impact"]["sessions"] == 3
        assert pm["impact"]["pii"] == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
        assert pm["root_cause"]["factors"] == ["retrieval index not partitioned by tenant", "no output PII filter"]

        repro = pm["reproduction"]
        assert repro["replayable"] == 1 and repro["checked"] == 3, repro
        assert repro["gaps"] == {"model_resolved": 1, "raw content (purged by retention)": 1}
        by_call = {r["call_id"]: r for r in repro["calls"]}
        assert by_call[ids[0]]["replayable"] and by_call[ids[1]]["missing"] == ["model_resolved"]

        guard = {g["detector"]: g for g in pm["guardrails"]["expected"]}
        assert guard["pii"]["verdict"] == "fired" and guard["pii"]["fired_on_calls"] == 3
        assert guard["secrets"]["verdict"] == "on but silent: a detection gap"
        assert guard["canary"]["verdict"] == "off: should have been on"
        assert "canary" not in pm["guardrails"]["enabled"]

        cases = pm["regression_cases"]
        assert len(cases) == 3 and cases[0]["source_call"] == ids[0]
        assert cases[0]["expect"] == {"must_not_contain_entities": ["EMAIL_ADDRESS"],
                                      "detectors_must_stay_silent": ["pii"]}
        assert cases[0]["input"][0]["role"] == "user"
        assert [o["kind"] for o in pm["scope"]["obligations"]] == ["gdpr_art33"]
        assert pm["scope"]["tenants"] == ["acme-tenant"]
        assert "data (retrieval index not partitioned by tenant" in pm["finding"]
        assert "not the people" in pm["finding"]
        assert [x["title"] for x in pm["actions"]] == ["Partition the index by tenant"]
        due = add_business_days(resolved.date(), 5)
        assert pm["due"] == {"due": due.isoformat(), "completed_at": None, "completed_by": None, "overdue": False}
        md = pm["markdown"]
        for heading in ("## Timeline", "## Impact", "## Root cause", "## Reproduction", "## Guardrail assessment",
                        "## Scope and regulatory obligations", "## Regression test", "## Blameless finding",
                        "## Action items"):
            assert heading in md
        assert "First occurrence in production" in md and "| dana |" in md.replace("  ", " ")
        assert "Overdue" not in md and "[MISSING" not in md.split("### What changed")[0].split("## Root cause")[1]
        assert "1. Answers showed other customers' tickets" in md and "5. No test covered tenant isolation" in md

        r = c.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "md"})
        assert r.headers["content-type"].startswith("text/markdown") and r.text.startswith(f"# Post-mortem {iid}")
        r = c.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "html"})
        assert r.headers["content-type"].startswith("text/html") and "<h2>Blameless finding</h2>" in r.text
        assert c.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "pdf"}).status_code == 422

        # Overdue after five business days without completion; flagged in the list and the document.
        assert c.get("/api/v1/postmortems", params={"overdue": "true"}).json()["postmortems"] == []
        rt: Runtime = fl.app.state.comms
        rt.clock = lambda: resolved + timedelta(days=10)
        (row,) = c.get("/api/v1/postmortems", params={"overdue": "true"}).json()["postmortems"]
        assert row["incident_id"] == iid and row["overdue"] is True
        md = c.get(f"/api/v1/incidents/{iid}/postmortem", params={"format": "md"}).text
        assert f"**Overdue:** this post-mortem was due {due.isoformat()}" in md
        done = c.post(f"/api/v1/incidents/{iid}/postmortem/complete")
        assert done.status_code == 200 and done.json()["overdue"] is False
        assert c.get("/api/v1/postmortems", params={"overdue": "true"}).json()["postmortems"] == []
        assert c.post(f"/api/v1/incidents/{iid}/postmortem/complete").status_code == 409


def test_postmortem_of_an_open_incident_marks_what_is_missing(db: Database) -> None:
    with running(db, comms_config()) as fl, fl.client("responder") as c:
        iid = c.post("/api/v1/incidents", json={"title": "Refusals", "type": "capability_loss",
                                                "apps": ["support-bot"]}).json()["id"]
        pm = c.get(f"/api/v1/incidents/{iid}/postmortem").json()
        assert pm["due"]["due"] is None and pm["root_cause"]["category"] is None
        assert "[MISSING: pm.root_cause.category]" in pm["markdown"]
        assert "[MISSING: action items]" in pm["markdown"]
        assert "[MISSING: root cause]" in pm["finding"]
        assert c.post(f"/api/v1/incidents/{iid}/postmortem/complete").status_code == 409
        assert c.get("/api/v1/incidents/INC-nope/postmortem").status_code == 404
        with fl.client("viewer") as v:
            assert v.get(f"/api/v1/incidents/{iid}/postmortem").status_code == 200
            assert v.put(f"/api/v1/incidents/{iid}/root-cause", json={"category": "model"}).status_code == 403
