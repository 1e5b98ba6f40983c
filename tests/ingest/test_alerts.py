"""Alertmanager webhooks and PagerDuty Events v2 bodies become alerts on the event bus."""

from __future__ import annotations

from typing import Any

import httpx

from fireline.config import Config
from fireline.db import Database
from tests.ingest.helpers import fixture_json
from tests.support.fireline import running

AM = "/api/v1/alerts/alertmanager"
PD = "/api/v1/alerts/pagerduty"


def test_alertmanager_fixtures_and_validation(db: Database, captured: list[tuple[str, Any]]) -> None:
    firing = fixture_json("alertmanager_firing.json")
    with running(db) as fl, fl.client("ingest") as http:
        resp = http.post(AM, json=firing)
        assert resp.status_code == 200, resp.text
        assert resp.json()["event"] == "alert.fired"
        topic, alert = captured[-1]
        assert topic == "alert.fired" and alert.source == "alertmanager"
        assert alert.dedup_key == "alertmanager:" + firing["groupKey"]
        assert (alert.severity, alert.type, alert.apps) == ("P0", "availability", ("support-bot",))
        assert alert.title == "support-bot LLM error rate above 30% for 5m (2 alerts)"
        assert alert.at.isoformat().startswith("2026-11-22T09:55:03") and alert.signal == "LLMErrorRateHigh"
        assert alert.details["alerts"][0]["fingerprint"] == "c6eadffa33fcdf37"
        assert alert.details["alerts"][0]["ends_at"] is None

        with fl.client("responder") as reader:  # one incident for the group (the incidents part)
            opened = reader.get("/api/v1/incidents").json()["incidents"]
            assert [(i["type"], i["severity"], i["apps"]) for i in opened] == [("availability", "P0", ["support-bot"])]
        assert http.post(AM, json=firing).status_code == 200  # a repeat attaches, no second incident
        with fl.client("responder") as reader:
            assert len(reader.get("/api/v1/incidents").json()["incidents"]) == 1

        resp = http.post(AM, json=fixture_json("alertmanager_resolved.json"))
        topic, alert = captured[-1]
        assert resp.status_code == 200 and topic == "alert.resolved"
        assert alert.dedup_key == "alertmanager:" + firing["groupKey"] and alert.at.isoformat().startswith(
            "2026-11-22T10:20")

        for label, expected in (("warning", "P2"), ("page", "P1"), ("info", "P3"), ("P1", "P1")):
            body = {**firing, "commonLabels": {**firing["commonLabels"], "severity": label,
                                               "fireline_type": "data_leakage"},
                    "alerts": [{**a, "labels": {**a["labels"], "severity": label}} for a in firing["alerts"]]}
            assert http.post(AM, json=body).status_code == 200
            assert (captured[-1][1].severity, captured[-1][1].type) == (expected, "data_leakage")

        bad = {k: v for k, v in firing.items() if k != "groupKey"}
        resp = http.post(AM, json=bad)
        assert resp.status_code == 422 and resp.json()["field"] == "groupKey"
        resp = http.post(AM, json={**firing, "alerts": [{**firing["alerts"][0], "status": "exploded"}]})
        assert resp.status_code == 422 and resp.json()["field"] == "alerts[0].status"
        resp = http.post(AM, json={**firing, "version": "3"})
        assert resp.status_code == 422 and resp.json()["field"] == "version"
        assert http.post(AM, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    with running(db) as fl, httpx.Client(base_url=fl.url) as anon:
        assert anon.post(AM, json=firing).status_code == 401
        assert anon.post(AM, json=firing, headers={"X-Fireline-Key": fl.keys["ingest"]}).status_code == 200


def test_alertmanager_config_mapping(db: Database, captured: list[tuple[str, Any]]) -> None:
    config = Config.model_validate({"alertmanager": {
        "app_labels": ["product"], "severity_label": "level", "severity": {"sev1": "P0", "critical": "P1"},
        "type_labels": ["category"], "types": {"pii": "data_leakage"}, "default_type": "quality_degradation"}})
    firing = fixture_json("alertmanager_firing.json")
    firing["commonLabels"] = {"alertname": "X", "product": "checkout-ai", "level": "sev1", "category": "pii"}
    with running(db, config) as fl, fl.client("ingest") as http:
        assert http.post(AM, json=firing).status_code == 200
        alert = captured[-1][1]
        assert (alert.apps, alert.severity, alert.type) == (("checkout-ai",), "P0", "data_leakage")
        firing["commonLabels"]["category"] = "weird thing"
        assert http.post(AM, json=firing).status_code == 200
        assert captured[-1][1].type == "quality_degradation"
        assert captured[-1][1].details["source_type"] == "weird thing"


def test_pagerduty_events(db: Database, captured: list[tuple[str, Any]]) -> None:
    event = fixture_json("pagerduty_trigger.json")
    with running(db) as fl:
        with fl.client("ingest") as http:
            resp = http.post(PD, json=event)
            assert resp.status_code == 202
            assert resp.json() == {"status": "success", "message": "Event processed", "dedup_key": "srv01/llm-latency"}
            topic, alert = captured[-1]
            assert topic == "alert.fired" and alert.dedup_key == "pagerduty:srv01/llm-latency"
            assert (alert.severity, alert.type, alert.apps, alert.source) == ("P1", "availability", ("support-bot",),
                                                                              "pagerduty")
            assert alert.title == "support-bot p99 latency above 8s"
            assert alert.at.isoformat().startswith("2026-11-22T10:02")
            assert alert.details["custom_details"] == {"p99_ms": 8420, "region": "eu-west-1"}

            no_key = {k: v for k, v in event.items() if k != "dedup_key"}
            resp = http.post(PD, json=no_key)
            generated = resp.json()["dedup_key"]
            assert resp.status_code == 202 and len(generated) >= 16
            assert captured[-1][1].dedup_key == f"pagerduty:{generated}"

            for action, topic in (("acknowledge", "alert.acknowledged"), ("resolve", "alert.resolved")):
                resp = http.post(PD, json={"routing_key": "x", "event_action": action,
                                           "dedup_key": "srv01/llm-latency"})
                assert resp.status_code == 202 and captured[-1][0] == topic
                assert captured[-1][1].dedup_key == "pagerduty:srv01/llm-latency"

            resp = http.post(PD, json={"routing_key": "x", "event_action": "trigger",
                                       "payload": {"summary": "", "severity": "fatal"}})
            body = resp.json()
            assert resp.status_code == 400 and body["status"] == "invalid event"
            assert body["message"] == "Event object is invalid"
            assert "'payload.summary' is missing or blank" in body["errors"]
            assert any("payload.severity" in e for e in body["errors"])
            assert any("payload.source" in e for e in body["errors"])
            resp = http.post(PD, json={"routing_key": "x", "event_action": "resolve"})
            assert resp.status_code == 400 and any("dedup_key" in e for e in resp.json()["errors"])
            resp = http.post(PD, json={"routing_key": "x", "event_action": "explode", "dedup_key": "k"})
            assert resp.status_code == 400 and any("event_action" in e for e in resp.json()["errors"])
            resp = http.post(PD, content=b"{nope", headers={"Content-Type": "application/json"})
            assert resp.status_code == 400 and resp.json()["status"] == "invalid event"

        # existing senders: the routing key is a Fireline ingest key, no other header
        with httpx.Client(base_url=fl.url) as anon:
            resp = anon.post(PD, json={**event, "routing_key": fl.keys["ingest"], "dedup_key": "k2"})
            assert resp.status_code == 202 and captured[-1][1].dedup_key == "pagerduty:k2"
            before = len(captured)
            resp = anon.post(PD, json={**event, "routing_key": "R0123456789abcdef0123456789abcdef"})
            assert resp.status_code == 401 and resp.json()["status"] == "unauthorized"
            assert len(captured) == before
