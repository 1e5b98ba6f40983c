"""Humans in the loop: an incident contained by automation still needs a person's acknowledgement.

Its ack clock keeps running (and breaches), the person who acknowledges becomes commander,
PagerDuty receives the acknowledge, and the time to acknowledge is computed."""

from __future__ import annotations

import time

from fireline.db import Database
from tests.comms.support import comms_config, http_receiver, wait_for
from tests.incidents.helpers import alert
from tests.support.fireline import running


def test_auto_contained_incident_still_needs_an_ack_and_its_clock_runs(db: Database) -> None:
    with http_receiver() as http:
        config = comms_config(http, notifications={"routes": [{"channels": ["pager"]}]},
                              auto_contain={"data_leakage": ["P0"]},
                              sla={"check_interval_s": 0.05, "P0": {"ack": "1s", "contain": "15m"}})
        with running(db, config) as fl, fl.client("responder") as c:
            db.bus.publish("alert.fired", db=db, alert=alert(key="canary", severity="P0", title="Canary leak"))
            inc = wait_for(lambda: next((i for i in c.get("/api/v1/incidents").json()["incidents"]
                                         if i["state"] == "contained"), None), what="an auto-contained incident")
            iid = inc["id"]
            assert inc["acknowledged_at"] is None and inc["commander"] is None
            assert inc["metrics"]["time_to_acknowledge_s"] is None

            # Nobody acknowledged within the ack SLA: the breach is recorded although it is contained.
            breached = wait_for(lambda: c.get(f"/api/v1/incidents/{iid}").json()["sla"]["ack_breached_at"],
                                what="the ack SLA breach")
            assert breached
            entries = c.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "sla_breached"}).json()["entries"]
            assert [e["data"]["clock"] for e in entries] == ["ack"]

            r = c.post(f"/api/v1/incidents/{iid}/ack", json={"reason": "on it"})
            assert r.status_code == 200, r.text
            acked = r.json()
            assert acked["state"] == "contained"  # acknowledging does not undo the containment
            assert acked["acknowledged_at"] is not None
            assert acked["commander"] == acked["roles"]["commander"] and acked["commander"]
            assert acked["metrics"]["time_to_acknowledge_s"] > 0
            again = c.post(f"/api/v1/incidents/{iid}/ack")
            assert again.status_code == 409 and "acknowledged already" in again.json()["detail"]
            assert again.json()["allowed"] == ["resolve", "merge"]

            pd = wait_for(lambda: len(http.on("/pd")) >= 2 and http.on("/pd"), what="trigger and acknowledge")
            assert [r.json()["event_action"] for r in pd] == ["trigger", "acknowledge"]
            assert {r.json()["dedup_key"] for r in pd} == {iid}

            time.sleep(0.3)  # the clock is stopped: no second breach
            assert len(c.get(f"/api/v1/incidents/{iid}/timeline",
                             params={"kind": "sla_breached"}).json()["entries"]) == 1
            metrics = c.get("/metrics").text
            assert 'fireline_incident_time_to_acknowledge_seconds_count{severity="P0",type="data_leakage"}' in metrics


def test_a_person_resolving_an_unacknowledged_incident_acknowledges_it(db: Database) -> None:
    with running(db, comms_config(auto_contain={"data_leakage": ["P0"]})) as fl, fl.client("responder") as c:
        db.bus.publish("alert.fired", db=db, alert=alert(key="canary", severity="P0"))
        inc = wait_for(lambda: next((i for i in c.get("/api/v1/incidents").json()["incidents"]
                                     if i["state"] == "contained"), None), what="an auto-contained incident")
        done = c.post(f"/api/v1/incidents/{inc['id']}/resolve").json()
        assert done["state"] == "resolved" and done["acknowledged_at"] and done["commander"]
        kinds = [(e["kind"], e["data"].get("action")) for e in
                 c.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "state"}).json()["entries"]]
        assert kinds == [("state", "contain"), ("state", "ack"), ("state", "resolve")]
