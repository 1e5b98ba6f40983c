"""Notifications reach real receivers (HTTP and SMTP on loopback), retry with backoff, are
recorded on the timeline, follow the routes, and never hold up the incident flow."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx

from fireline.db import Database
from tests.comms.support import comms_config, http_receiver, smtp_receiver, wait_for
from tests.support.fireline import running

DECLARE = {"title": "Support bot shows other customers' e-mail addresses", "type": "data_leakage",
           "severity": "P0", "apps": ["support-bot"]}


def timeline(client: httpx.Client, incident_id: str, kind: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get(f"/api/v1/incidents/{incident_id}/timeline",
                                               params={"kind": kind}).json()["entries"]
    return entries


def test_lifecycle_reaches_every_channel(db: Database) -> None:
    with (http_receiver() as http, smtp_receiver() as (port, mailbox),
          running(db, comms_config(http, port)) as fl, fl.client("responder") as c):
        inc = c.post("/api/v1/incidents", json=DECLARE).json()  # opened, then acknowledged (declared)
        iid = inc["id"]
        assert c.post(f"/api/v1/incidents/{iid}/contain").status_code == 200
        assert c.post(f"/api/v1/incidents/{iid}/resolve").status_code == 200

        pd = wait_for(lambda: len(http.on("/pd")) >= 3 and http.on("/pd"), what="3 PagerDuty events")
        bodies = [r.json() for r in pd]
        assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
        assert {b["dedup_key"] for b in bodies} == {iid}
        assert bodies[0]["routing_key"] == "R0UT1NG" and bodies[0]["payload"]["severity"] == "critical"
        assert bodies[0]["payload"]["source"] == "fireline"

        hooks = wait_for(lambda: len(http.on("/hook")) >= 4 and http.on("/hook"), what="4 webhooks")
        for r in hooks:
            stamp = r.headers["x-fireline-timestamp"]
            assert abs(int(stamp) - time.time()) < 120
            expected = "sha256=" + hmac.new(b"s3cret", stamp.encode() + b"." + r.body, hashlib.sha256).hexdigest()
            assert r.headers["x-fireline-signature"] == expected
            assert r.json()["incident"]["id"] == iid
        assert [r.json()["event"] for r in hooks] == ["opened", "acknowledged", "contained", "resolved"]

        slack = wait_for(lambda: http.on("/slack"), what="a Slack message")[0].json()
        assert iid in slack["text"] and slack["blocks"][0]["type"] == "header"
        assert "opened" in slack["blocks"][0]["text"]["text"]

        wait_for(lambda: len(mailbox.messages) >= 4, what="4 e-mails")
        first = mailbox.messages[0]
        assert first["Subject"].startswith(f"[P0] {iid} opened")
        assert first["To"] == "oncall@example.com" and first["X-Fireline-Incident"] == iid

        # 4 events x (webhook, slack, email) + 3 PagerDuty actions (contained has none: recorded as skipped)
        sent = wait_for(lambda: len(timeline(c, iid, "message_sent")) >= 16 and timeline(c, iid, "message_sent"),
                        what="16 message_sent entries")
        assert {e["data"]["channel"] for e in sent} == {"hook", "chat", "pager", "mail"}
        assert all(e["actor"] == "fireline:comms" and e["data"]["attempt"] == 1 for e in sent)
        assert c.get(f"/api/v1/incidents/{iid}/verify").json()["ok"] is True


def test_failed_deliveries_retry_with_backoff_and_are_recorded(db: Database) -> None:
    with http_receiver() as http:
        http.script["/hook"] = [(503, 0.0), (503, 0.0)]  # third attempt succeeds
        http.script["/slack"] = [(400, 0.0)]  # permanent: not retried
        config = comms_config(http, notifications={"routes": [{"channels": ["hook", "chat"]}]})
        with running(db, config) as fl, fl.client("responder") as c:
            iid = c.post("/api/v1/incidents", json={**DECLARE, "severity": "P2"}).json()["id"]
            # In order per incident and channel: "opened" is retried until it passes, then "acknowledged".
            wait_for(lambda: len(http.on("/hook")) >= 4, what="opened x3 + acknowledged webhook attempts")
            assert [r.json()["event"] for r in http.on("/hook")] == ["opened"] * 3 + ["acknowledged"]
            failed = wait_for(lambda: len(timeline(c, iid, "message_failed")) >= 3 and
                              timeline(c, iid, "message_failed"), what="failures recorded")
            hook_fails = [e["data"] for e in failed if e["data"]["channel"] == "hook"]
            assert [f["attempt"] for f in hook_fails] == [1, 2]
            assert all(not f["final"] and "503" in f["error"] for f in hook_fails)
            slack_fails = [e["data"] for e in failed if e["data"]["channel"] == "chat"]
            assert len(slack_fails) == 1 and slack_fails[0]["final"] and "400" in slack_fails[0]["error"]
            sent = wait_for(lambda: [e for e in timeline(c, iid, "message_sent") if e["data"]["channel"] == "hook"
                                     and e["data"]["event"] == "opened"], what="opened webhook sent")
            assert sent[0]["data"]["attempt"] == 3
            opened = [r for r in http.on("/hook") if r.json()["event"] == "opened"]
            assert len({r.json()["delivery_id"] for r in opened}) == 1  # one delivery, retried
            gaps = [e["data"]["next_attempt_at"] for e in failed if e["data"]["channel"] == "hook"]
            assert all(gaps)  # each failure names when the next attempt is due
            deliveries = c.get(f"/api/v1/incidents/{iid}/deliveries").json()["deliveries"]
            by = {(d["channel"], d["event"]): d for d in deliveries}
            assert by[("hook", "opened")]["status"] == "sent" and by[("hook", "opened")]["attempts"] == 3
            assert by[("chat", "opened")]["status"] == "failed" and by[("chat", "opened")]["attempts"] == 1


def test_routes_pick_channels_by_severity_and_type(db: Database) -> None:
    with http_receiver() as http:
        routes = [{"match": {"severity": ["P0", "P1"], "type": ["data_leakage"]}, "channels": ["pager"]},
                  {"match": {"severity": ["P3"]}, "channels": ["hook"]}]
        with running(db, comms_config(http, notifications={"routes": routes})) as fl, fl.client("responder") as c:
            leak = c.post("/api/v1/incidents", json=DECLARE).json()["id"]
            minor = c.post("/api/v1/incidents", json={"title": "One odd answer", "type": "hallucination",
                                                      "severity": "P3", "apps": ["support-bot"]}).json()["id"]
            wait_for(lambda: len(http.on("/pd")) >= 2 and len(http.on("/hook")) >= 2, what="routed messages")
            time.sleep(0.3)
            assert {r.json()["dedup_key"] for r in http.on("/pd")} == {leak}
            assert {r.json()["incident"]["id"] for r in http.on("/hook")} == {minor}
            assert http.on("/slack") == []


def test_a_hanging_receiver_does_not_block_the_incident_flow(db: Database) -> None:
    with http_receiver() as http:
        http.script["/hook"] = [(200, 3.0)] * 10
        config = comms_config(http, notifications={"routes": [{"channels": ["hook"]}], "timeout_s": 5})
        with running(db, config) as fl, fl.client("responder") as c:
            started = time.monotonic()
            iid = c.post("/api/v1/incidents", json=DECLARE).json()["id"]
            assert c.post(f"/api/v1/incidents/{iid}/contain").status_code == 200
            assert c.post(f"/api/v1/incidents/{iid}/resolve").status_code == 200
            assert time.monotonic() - started < 2.0
            wait_for(lambda: http.on("/hook"), what="the slow webhook to be called")


def test_sla_breach_is_notified(db: Database) -> None:
    with http_receiver() as http:
        config = comms_config(http, notifications={"routes": [{"match": {"events": ["sla_breached"]},
                                                               "channels": ["hook"]}]})
        with running(db, config) as fl, fl.client("responder") as c:
            iid = c.post("/api/v1/incidents", json=DECLARE).json()["id"]
            db.bus.publish_strict("incident.sla_breached", db=db, incident_id=iid, clock="contain")
            (hook,) = wait_for(lambda: http.on("/hook"), what="the SLA breach message")
            assert hook.json()["event"] == "sla_breached" and "SLA breached (contain)" in hook.json()["subject"]
