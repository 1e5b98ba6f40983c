"""Update cadence: P0/P1 incidents without an update for 30 minutes remind the comms lead (or
the commander), on the timeline and through the routes; the clock is injected."""

from __future__ import annotations

from datetime import datetime, timedelta

from fireline.comms import cadence
from fireline.comms.config import load
from fireline.comms.delivery import Event, Runtime
from fireline.db import Database
from fireline.incidents import edits, service
from fireline.incidents.lifecycle import transition
from fireline.incidents.schemas import DeclareIn
from fireline.incidents.timeline import entries
from tests.comms.support import comms_config, http_receiver, wait_for
from tests.support.fireline import running


def drain(rt: Runtime) -> list[Event]:
    out = []
    while not rt.inbox.empty():
        out.append(rt.inbox.get_nowait())
    return out


def reminders(db: Database, incident_id: str) -> list[dict[str, object]]:
    with db.session() as s:
        return [e.data for e in entries(s, incident_id, kind="update_reminder")]


def test_reminders_follow_the_cadence_and_reset_on_updates(db: Database) -> None:
    config = comms_config(comms={"cadence": {"P0": "30m", "P1": 45}},
                          notifications={"contacts": {"carol": "carol@example.com"}})
    p0 = service.declare(db, DeclareIn(title="leak", type="data_leakage", severity="P0", apps=["a"]), "alice")
    p2 = service.declare(db, DeclareIn(title="meh", type="bias", severity="P2", apps=["a"]), "alice")
    t0: datetime = p0.detected_at
    rt = Runtime(db, load(config), clock=lambda: t0)

    cadence.check(rt, t0 + timedelta(minutes=29))
    assert reminders(db, p0.id) == [] and drain(rt) == []

    cadence.check(rt, t0 + timedelta(minutes=31))
    (r,) = reminders(db, p0.id)
    assert r["to"] == "alice" and r["role"] == "commander" and r["seconds_since_update"] == 31 * 60
    (ev,) = drain(rt)
    assert ev.name == "update_reminder" and ev.incident_id == p0.id
    assert reminders(db, p2.id) == []  # P2 has no cadence

    cadence.check(rt, t0 + timedelta(minutes=45))  # reminded 14 min ago: not again yet
    assert len(reminders(db, p0.id)) == 1

    edits.assign(db, p0.id, "comms_lead", "carol", "alice")
    with db.writing() as s:
        cadence.post_update(s, p0.id, "We are rotating keys.", False, "carol", t0 + timedelta(minutes=50))
    cadence.check(rt, t0 + timedelta(minutes=79))
    assert len(reminders(db, p0.id)) == 1
    cadence.check(rt, t0 + timedelta(minutes=81))
    last = reminders(db, p0.id)[-1]
    assert last["to"] == "carol" and last["role"] == "comms_lead" and last["seconds_since_update"] == 31 * 60
    (ev,) = drain(rt)
    assert ev.data["email"] == "carol@example.com"


def test_reminders_stop_once_resolved(db: Database) -> None:
    inc = service.declare(db, DeclareIn(title="x", type="data_leakage", severity="P1", apps=["a"]), "alice")
    rt = Runtime(db, load(comms_config()))
    transition(db, inc.id, "resolve", "alice")
    cadence.check(rt, inc.detected_at + timedelta(hours=3))
    assert reminders(db, inc.id) == []


def test_update_api_records_internal_and_public_updates_and_reminds_via_channels(db: Database) -> None:
    with http_receiver() as http:
        config = comms_config(http, notifications={"routes": [{"match": {"events": ["update_reminder", "update"]},
                                                               "channels": ["hook"]}]})
        with running(db, config) as fl, fl.client("responder") as c:
            iid = c.post("/api/v1/incidents", json={"title": "Leak", "type": "data_leakage", "severity": "P0",
                                                    "apps": ["support-bot"]}).json()["id"]
            r = c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "Investigating the cache layer."})
            assert r.status_code == 201 and r.json()["public"] is False
            r = c.post(f"/api/v1/incidents/{iid}/updates", json={"message": "We are looking into it.",
                                                                  "public": True})
            assert r.status_code == 201 and r.json()["status"] == "investigating"
            with fl.client("viewer") as v:
                assert v.post(f"/api/v1/incidents/{iid}/updates", json={"message": "x"}).status_code == 403
                ups = v.get(f"/api/v1/incidents/{iid}/updates").json()["updates"]
            assert [u["public"] for u in ups] == [False, True]
            kinds = [e["kind"] for e in c.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]]
            assert kinds.count("update") == 2
            assert c.post(f"/api/v1/incidents/{iid}/updates", json={"message": ""}).status_code == 422
            assert c.post("/api/v1/incidents/INC-nope/updates", json={"message": "x"}).status_code == 404

            rt: Runtime = fl.app.state.comms
            later = ups[-1]["at"]
            rt.clock = lambda: datetime.fromisoformat(later.replace("Z", "+00:00")) + timedelta(minutes=31)
            rt.next_check = None
            hooks = wait_for(lambda: [h for h in http.on("/hook") if h.json()["event"] == "update_reminder"],
                             what="a reminder through the webhook")
            assert "no update for 31 min" in hooks[0].json()["subject"]
            assert [h.json()["event"] for h in http.on("/hook")][:2] == ["update", "update"]
