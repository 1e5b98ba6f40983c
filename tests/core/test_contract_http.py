"""DESIGN.md's CONTRACT, read against a real server on loopback: every documented path answers
with the documented method, and every documented key of a JSON shape is in the real answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

CALL_KEYS = ["id", "app", "environment", "tenant", "session_id", "user_pseudonym", "model", "prompt_version",
             "system_prompt", "input", "output", "retrieval", "tool_calls", "input_tokens", "output_tokens",
             "cost_usd", "latency_ms", "started_at", "metadata", "findings"]
INCIDENT_KEYS = ["id", "title", "type", "severity", "state", "commander", "detected_at", "acknowledged_at",
                 "contained_at", "resolved_at", "apps", "linked_calls"]


@pytest.fixture
def fl(sqlite_db: Database) -> Iterator[Fireline]:
    with UpstreamServer() as upstream, running(sqlite_db, upstream_url=upstream.base_url) as server:
        yield server


def has(obj: Any, keys: list[str], what: str) -> None:
    assert isinstance(obj, dict), f"{what}: not an object: {obj!r}"
    missing = [k for k in keys if k not in obj]
    assert not missing, f"{what}: missing {missing} (has {sorted(obj)})"


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text}"
    return resp.json() if "json" in resp.headers.get("content-type", "") else resp.content


def test_calls_keys_canaries_and_monitors(fl: Fireline) -> None:
    call = {"id": "ct/1", "app": "support-bot", "environment": "prod", "tenant": "acme", "session_id": "s-19",
            "user": "alice@example.com", "model": "gpt-4o-2024-08-06", "prompt_version": "v12",
            "system_prompt": "You are ...", "input": [{"role": "user", "content": "mail me at a@example.com"}],
            "output": "Sure.", "retrieval": [{"id": "kb-7", "source": "kb", "text": "..."}],
            "tool_calls": [{"name": "issue_refund", "arguments": {"amount": 20}, "kind": "write"}],
            "input_tokens": 120, "output_tokens": 80, "cost_usd": 0.0012, "latency_ms": 850,
            "started_at": "2026-11-22T10:00:00Z", "metadata": {}, "shoe_size": 42}
    with fl.client("ingest") as ingest:
        ok(ingest.post("/api/v1/calls", json=call), 201)
        ok(ingest.post("/api/v1/calls", json={"calls": [{"app": "support-bot", "output": "hi"}]}), 201)
    with fl.client("responder") as http:
        page = ok(http.get("/api/v1/calls", params={"app": "support-bot"}))
        has(page, ["calls", "next_cursor"], "search")
        got = ok(http.get(f"/api/v1/calls/{quote('ct/1', safe='')}", params={"raw": "true", "reason": "test"}))
        has(got, CALL_KEYS, "call")
        assert "user" not in got and got["metadata"]["shoe_size"] == 42  # unknown keys go to metadata
        assert got["findings"], got
        has(got["findings"][0], ["detector", "kind", "severity", "location", "start", "end"], "finding")
        assert ok(http.get("/api/v1/calls/count", params={"app": "support-bot"})) == {"count": 2}
        has(ok(http.get("/api/v1/monitors")), ["monitors"], "monitors")
        ok(http.post("/api/v1/reports", json={"call_id": "ct/1", "kind": "wrong"}), 201)
        ok(http.post("/api/v1/changes", json={"kind": "model", "app": "support-bot"}), 201)
        erased = ok(http.delete(f"/api/v1/subjects/{quote('alice@example.com', safe='')}"))
        assert erased["deleted_calls"] == 1, erased
    with fl.client("admin") as admin:
        ok(admin.post("/api/v1/canaries", json={"tenant": "acme", "token": "CANARY-acme-0123456789"}), 201)
        has(ok(admin.get("/api/v1/canaries")), ["canaries"], "canaries")
        key = ok(admin.post("/api/v1/keys", json={"role": "viewer"}), 201)
        has(key, ["id", "key", "role"], "key")
        ok(admin.delete(f"/api/v1/keys/{key['id']}"))


def test_incident_lifecycle_evidence_and_controls(fl: Fireline) -> None:
    with fl.client("responder") as http:
        inc = ok(http.post("/api/v1/incidents", json={"title": "contract", "type": "hallucination",
                                                      "severity": "P3"}), 201)
        has(inc, INCIDENT_KEYS, "incident")
        iid = inc["id"]
        assert iid.startswith("INC-") and inc["severity"] in ("P0", "P1", "P2", "P3")
        has(ok(http.get("/api/v1/incidents")), ["incidents"], "incident list")
        has(ok(http.get(f"/api/v1/incidents/{iid}")), INCIDENT_KEYS, "incident")
        has(ok(http.get(f"/api/v1/incidents/{iid}/verify")), ["ok", "first_broken"], "verify")
        has(ok(http.get(f"/api/v1/incidents/{iid}/timeline")), ["entries"], "timeline")
        snap = ok(http.post(f"/api/v1/incidents/{iid}/snapshots", json={}), 201)
        has(ok(http.get(f"/api/v1/incidents/{iid}/snapshots")), ["snapshots"], "snapshots")
        assert ok(http.get(f"/api/v1/snapshots/{snap['id']}/export"))[:2] == b"\x1f\x8b"  # a gzip bundle
        radius = ok(http.get(f"/api/v1/incidents/{iid}/blast-radius"))
        assert radius.get("status") == "unknown" or set(radius) >= {"users", "sessions", "tenants", "calls",
                                                                     "first_occurrence", "pii"}, radius
        ok(http.get(f"/api/v1/incidents/{iid}/postmortem"))
        ok(http.get(f"/api/v1/incidents/{iid}/obligations"))
        control = ok(http.post("/api/v1/controls", json={
            "kind": "rate_limit", "scope": {"app": "support-bot"}, "params": {"per_minute": 5},
            "incident_id": iid, "reason": "contract", "expires_at": "2099-01-01T00:00:00Z"}), 201)
        has(control, ["id", "revision"], "control")
        has(ok(http.get("/api/v1/controls")), ["controls"], "controls")
        ok(http.delete(f"/api/v1/controls/{control['id']}"))
        for action in ("contain", "resolve"):
            ok(http.post(f"/api/v1/incidents/{iid}/{action}", json={}))
        fp = ok(http.post("/api/v1/incidents", json={"title": "fp", "type": "bias", "severity": "P3"}), 201)
        ok(http.post(f"/api/v1/incidents/{fp['id']}/false-positive", json={}))


def test_gateway_signals_and_public_paths(fl: Fireline) -> None:
    pd = {"routing_key": "r" * 32, "event_action": "trigger",
          "payload": {"summary": "refusals up", "source": "support-bot", "severity": "warning"}}
    am = {"version": "4", "groupKey": "g", "status": "firing", "receiver": "fl", "groupLabels": {},
          "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
          "alerts": [{"status": "firing", "labels": {"alertname": "HighRefusals", "app": "support-bot"},
                      "annotations": {}, "startsAt": "2026-12-06T15:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                      "generatorURL": "", "fingerprint": "f"}]}
    with fl.client("ingest") as http:
        assert http.post("/api/v1/alerts/pagerduty", json=pd).status_code == 202
        assert http.post("/v2/enqueue", json=pd).status_code == 202
        ok(http.post("/api/v1/alerts/alertmanager", json=am))
        for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
            ok(http.post(path, json={}))
        has(ok(http.get("/v1/models")), ["data", "object"], "models")
        error = http.get("/v1/models/no-such-model").json()
        has(error, ["error"], "gateway error")
        has(error["error"], ["message", "type", "param", "code"], "gateway error")
        has(ok(http.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u"}})), ["flags"], "ofrep")
    with httpx.Client(base_url=fl.url, timeout=30) as public:
        ok(public.get("/healthz"))
        assert public.get("/status").status_code == 200
        assert "fireline_" in public.get("/metrics").text
        assert public.get("/api/v1/incidents").status_code == 401
