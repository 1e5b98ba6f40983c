"""Disclosure clocks: GDPR Art. 33 (72 h from detection) for a personal-data leak, Art. 34 when
marked high-risk, required contents from the record, reminders before the deadline, met."""

from __future__ import annotations

from datetime import datetime, timedelta

from fireline.comms.delivery import Runtime
from fireline.db import Database
from tests.comms.support import comms_config, http_receiver, pii_leak, store_calls, wait_for
from tests.support.fireline import running


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_art33_opens_for_personal_data_and_lists_required_contents(db: Database) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]}, {"findings": [pii_leak(), pii_leak("IBAN_CODE")]},
                           {"findings": []}])
    with http_receiver() as http:
        config = comms_config(http, notifications={"routes": [{"match": {"events": ["obligation_opened",
                                                                                    "obligation_reminder"]},
                                                               "channels": ["hook"]}]})
        with running(db, config) as fl, fl.client("responder") as c:
            iid = c.post("/api/v1/incidents", json={"title": "Other customers' e-mails in answers",
                                                    "type": "data_leakage", "severity": "P0",
                                                    "apps": ["support-bot"], "call_ids": ids}).json()["id"]
            inc = c.get(f"/api/v1/incidents/{iid}").json()
            (ob,) = c.get(f"/api/v1/incidents/{iid}/obligations").json()["obligations"]
            assert ob["kind"] == "gdpr_art33" and ob["status"] == "open"
            # the deadline shows on the incident itself too
            shown = c.get(f"/api/v1/incidents/{iid}").json()["obligations"]
            assert [(o["kind"], o["deadline"]) for o in shown] == [("gdpr_art33", ob["deadline"])]
            assert parse(ob["deadline"]) - parse(inc["detected_at"]) == timedelta(hours=72)
            contents = {i["field"]: i for i in ob["required_contents"]}
            assert set(contents) == {"nature", "data_categories", "data_subjects", "records",
                                     "likely_consequences", "measures", "contact_point"}
            assert contents["data_categories"]["value"] == ["EMAIL_ADDRESS", "IBAN_CODE"]
            # the blast radius: every linked call (the declarer linked all three) and the matching ones
            assert contents["data_subjects"]["value"] == 3
            assert contents["records"]["value"] == {"calls": 3, "pii_items": 3}
            assert contents["contact_point"]["value"] == "DPO, dpo@example.com"
            assert ob["missing"] == ["likely_consequences", "measures"]
            hook = wait_for(lambda: http.on("/hook"), what="obligation notification")[0].json()
            assert hook["event"] == "obligation_opened" and "GDPR Art. 33" in hook["subject"]
            kinds = [e["kind"] for e in c.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
            assert kinds.count("obligation_opened") == 1

            # Reminders before the deadline: 24 h left, then 6 h left, then overdue; one each.
            rt: Runtime = fl.app.state.comms
            deadline = parse(ob["deadline"])
            def reminded() -> list[dict[str, object]]:
                return [h.json() for h in http.on("/hook") if h.json()["event"] == "obligation_reminder"]

            for n, left in enumerate((timedelta(hours=23), timedelta(hours=5), timedelta(hours=-1)), start=1):
                rt.clock = lambda left=left: deadline - left
                rt.next_check = None
                wait_for(lambda n=n: len(reminded()) >= n, what=f"reminder {n}")
            assert [r["subject"].rsplit(" ", 2)[-2:] for r in reminded()][:2] == [["23", "h"], ["5", "h"]]
            entries = c.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "obligation_reminder"}).json()
            assert [e["data"]["reminder"] for e in entries["entries"]] == ["24h", "6h", "overdue"]
            assert c.get(f"/api/v1/incidents/{iid}/obligations").json()["obligations"][0]["status"] == "overdue"

            met = c.post(f"/api/v1/incidents/{iid}/obligations/{ob['id']}/met", json={"note": "sent to the ICO"})
            assert met.status_code == 200
            assert met.json()["status"] == "met" and met.json()["met_by"] == c.get(
                f"/api/v1/incidents/{iid}/timeline", params={"kind": "obligation_met"}).json()["entries"][0]["actor"]
            assert met.json()["met_at"]
            again = c.post(f"/api/v1/incidents/{iid}/obligations/{ob['id']}/met")
            assert again.status_code == 409
            assert c.post(f"/api/v1/incidents/{iid}/obligations/OBL-nope/met").status_code == 404


def test_high_risk_opens_art34_and_non_personal_leaks_open_none(db: Database) -> None:
    ids = store_calls(db, [{"findings": [pii_leak()]}])
    with running(db, comms_config()) as fl, fl.client("responder") as c:
        secret = c.post("/api/v1/incidents", json={"title": "System prompt leaked", "type": "data_leakage",
                                                   "severity": "P1", "apps": ["support-bot"]}).json()["id"]
        assert c.get(f"/api/v1/incidents/{secret}/obligations").json()["obligations"] == []
        harm = c.post("/api/v1/incidents", json={"title": "Rude answers", "type": "harmful_output",
                                                 "apps": ["support-bot"], "call_ids": ids}).json()["id"]
        assert c.get(f"/api/v1/incidents/{harm}/obligations").json()["obligations"] == []

        leak = c.post("/api/v1/incidents", json={"title": "Leak", "type": "data_leakage", "severity": "P0",
                                                 "apps": ["support-bot"], "call_ids": ids}).json()["id"]
        with fl.client("viewer") as v:
            assert v.post(f"/api/v1/incidents/{leak}/high-risk").status_code == 403
        r = c.post(f"/api/v1/incidents/{leak}/high-risk", json={"reason": "financial data of private persons",
                                                               "likely_consequences": "fraud"})
        assert r.status_code == 200 and r.json()["high_risk"] is True
        kinds = {o["kind"]: o for o in r.json()["obligations"]}
        assert set(kinds) == {"gdpr_art33", "gdpr_art34"}
        art34 = kinds["gdpr_art34"]
        assert art34["recipient"] == "the affected data subjects" and art34["basis"]["personal_data"] is True
        assert {i["field"]: i["value"] for i in art34["required_contents"]}["likely_consequences"] == "fraud"
        assert "records" not in {i["field"] for i in art34["required_contents"]}
        assert c.post("/api/v1/incidents/INC-nope/high-risk").status_code == 404


def test_a_leak_without_calls_opens_no_clock_on_a_guess_and_asks_the_responder(db: Database) -> None:
    store_calls(db, [{"findings": [pii_leak()]} for _ in range(3)])  # the app's traffic holds PII
    with running(db, comms_config()) as fl, fl.client("responder") as c:
        from tests.incidents.helpers import alert

        fl.db.bus.publish("alert.fired", db=fl.db, alert=alert(key="pd:leak", source="pagerduty", severity="P0",
                                                               tenants=()))
        (inc,) = c.get("/api/v1/incidents").json()["incidents"]
        got = c.get(f"/api/v1/incidents/{inc['id']}/obligations").json()
        assert got["obligations"] == [] and got["would_open"] == []
        (q,) = got["questions"]
        assert q["kind"] == "gdpr_art33" and q["status"] == "needs_decision" and "personal-data" in q["answer"]
        assert c.post(f"/api/v1/incidents/{inc['id']}/personal-data", json={"involved": True}).status_code == 422
        r = c.post(f"/api/v1/incidents/{inc['id']}/personal-data",
                   json={"involved": True, "reason": "the customer's screenshot shows e-mail addresses"})
        assert r.status_code == 200
        (ob,) = r.json()["obligations"]
        assert ob["kind"] == "gdpr_art33" and r.json()["questions"] == []
        assert parse(ob["deadline"]) - parse(inc["detected_at"]) == timedelta(hours=72)
        kinds = [e["kind"] for e in c.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["entries"]]
        assert "personal_data" in kinds and "obligation_opened" in kinds
