"""Detection over HTTP on both databases: findings stored with calls, canaries, reports, erasure,
monitors listed and exported, and baselines that survive a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from fireline.calls.schemas import CallIn
from fireline.calls.service import prepare
from fireline.db import Database
from fireline.detect.detectors import CallView
from fireline.detect.models import Report
from fireline.detect.service import view_of
from tests.detect.streams import always, call, capture, history, now, recent, send
from tests.support.fireline import Fireline, running

TOKEN = "CNRY-acme-5d1f0c2e"


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def test_findings_are_stored_with_the_call_and_searchable(fl: Fireline) -> None:
    c = call(0, now(), output="Sure. Her card is 4111 1111 1111 1111; I can't stress enough how safe it is.",
             guardrails=[{"name": "moderation", "stage": "output", "action": "block"},
                         {"name": "pii-in", "stage": "input", "action": "allow"}])
    [cid] = send(fl.client("ingest"), [c])
    viewer = fl.client("viewer")
    found = {(f["detector"], f["kind"]): f for f in viewer.get(f"/api/v1/calls/{cid}").json()["findings"]}
    assert ("pii", "pii_leak") in found and ("guardrail", "output_block") in found
    assert ("refusal", "refusal") not in found  # "I can't stress enough" is not a refusal
    leak = found[("pii", "pii_leak")]
    assert leak["entity"] == "CREDIT_CARD" and leak["location"] == "output" and leak["severity"] == "P1"
    assert "4111" not in leak["evidence"] and "<CREDIT_CARD>" in leak["evidence"]
    hits = viewer.get("/api/v1/calls", params={"detector": "pii", "finding": "pii_leak"}).json()["calls"]
    assert [h["id"] for h in hits] == [cid]


def test_canaries_validate_mask_and_need_a_responder(fl: Fireline) -> None:
    responder, viewer, ingest = fl.client("responder"), fl.client("viewer"), fl.client("ingest")
    r = responder.post("/api/v1/canaries", json={"tenant": "acme", "token": "short"})
    assert r.status_code == 422 and r.json()["field"] == "token"
    r = responder.post("/api/v1/canaries", json={"token": TOKEN})
    assert r.status_code == 422 and r.json()["field"] == "tenant"
    r = responder.post("/api/v1/canaries", json={"tenant": "acme", "token": "has a space"})
    assert r.status_code == 422 and r.json()["field"] == "token"
    assert ingest.post("/api/v1/canaries", json={"tenant": "acme", "token": TOKEN}).status_code == 403
    r = responder.post("/api/v1/canaries", json={"tenant": "acme", "token": TOKEN})
    assert r.status_code == 201 and r.json()["token"] == TOKEN
    assert responder.post("/api/v1/canaries", json={"tenant": "acme", "token": TOKEN}).status_code == 201
    r = responder.post("/api/v1/canaries", json={"tenant": "globex", "token": TOKEN})
    assert r.status_code == 409 and r.json()["field"] == "token"
    [seen] = viewer.get("/api/v1/canaries").json()["canaries"]
    assert seen["masked"] and TOKEN not in seen["token"] and seen["tenant"] == "acme"
    assert responder.get("/api/v1/canaries").json()["canaries"][0]["token"] == TOKEN
    # The detector sees the new token at once (cache refreshed on change), for another tenant only.
    ids = send(ingest, [call(0, now(), tenant="acme", output=f"ref {TOKEN}"),
                        call(1, now(), tenant="globex", output=f"ref {TOKEN}")])
    kinds = [{f["kind"] for f in viewer.get(f"/api/v1/calls/{i}").json()["findings"]} for i in ids]
    assert "canary_leak" not in kinds[0] and "canary_leak" in kinds[1]
    assert responder.delete(f"/api/v1/canaries/{seen['id']}").status_code == 204
    [cid] = send(ingest, [call(2, now(), tenant="globex", output=f"ref {TOKEN}")])
    assert "canary_leak" not in {f["kind"] for f in viewer.get(f"/api/v1/calls/{cid}").json()["findings"]}


def test_reports_are_validated_redacted_and_erased_with_the_person(fl: Fireline) -> None:
    ingest, responder = fl.client("ingest"), fl.client("responder")
    [cid] = send(ingest, [call(0, now(), user="erin@example.com")])
    r = ingest.post("/api/v1/reports", json={"call_id": cid, "kind": "angry"})
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = ingest.post("/api/v1/reports", json={"call_id": "nope", "kind": "harmful"})
    assert r.status_code == 202 and r.json()["status"] == "pending"  # joined if the call lands
    r = ingest.post("/api/v1/reports", json={"call_id": cid, "kind": "harmful", "at": "2026-11-22T10:00:00"})
    assert r.status_code == 422 and r.json()["field"] == "at"
    assert fl.client(None).post("/api/v1/reports", json={"call_id": cid, "kind": "harmful"}).status_code == 401
    r = ingest.post("/api/v1/reports", json={"call_id": cid, "kind": "leak", "text": "it showed bob@example.com"})
    assert r.status_code == 201 and r.json()["text"] == "it showed <EMAIL_ADDRESS>"
    assert [x["kind"] for x in responder.get("/api/v1/reports", params={"call_id": cid}).json()["reports"]] == ["leak"]
    assert responder.delete("/api/v1/subjects/erin@example.com").status_code == 200
    with fl.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 0


def test_monitors_are_listed_and_exported(fl: Fireline) -> None:
    send(fl.client("ingest"), recent(10))
    body = fl.client("viewer").get("/api/v1/monitors").json()
    names = {m["name"] for m in body["monitors"]}
    assert {"refusal_rate", "canary_leak", "cost_per_hour", "latency_p99", "thumbs_down_rate"} <= names
    refusal = next(m for m in body["monitors"] if m["name"] == "refusal_rate")
    assert refusal["definition"]["window"] == "30m" and refusal["definition"]["type"] == "capability_loss"
    [g] = refusal["groups"]
    assert g["group"] == "app=support-bot" and g["state"] == "ok" and g["volume"] == 10 and g["last_fired"] is None
    text = fl.client(None).get("/metrics").text
    assert 'fireline_monitor_value{group="app=support-bot",monitor="refusal_rate"}' in text
    assert "Where is my order" not in text


def test_baselines_survive_a_restart(db: Database) -> None:
    refusing = always(output="I'm sorry, but I can't help with that.")
    high = lambda i, c: refusing(i, c) if i % 4 == 0 else c  # noqa: E731 - this app refuses 25% of the time
    with running(db) as first:
        send(first.client("ingest"), history(high))
    with running(db) as second, capture(db.bus) as cap:
        rebuilt = second.app.state.detect.rebuilt
        assert rebuilt["calls"] > 0 and rebuilt["findings"] > 0
        send(second.client("ingest"), recent(60, shape=high))  # 25% as always: the baseline knows
        assert cap.keys == set()
        g = next(m for m in second.client("viewer").get("/api/v1/monitors").json()["monitors"]
                 if m["name"] == "refusal_rate")["groups"][0]
        assert g["baseline"] == pytest.approx(0.25, abs=0.01)


def test_an_alert_is_not_repeated_after_a_restart(db: Database) -> None:
    leak = always(output="Use key AKIAIOSFODNN7EXAMPLE with the SDK.")
    with running(db) as first, capture(db.bus) as cap:
        send(first.client("ingest"), recent(1, 1, leak))
        assert cap.keys == {"monitor:pii_secret_leak:app=support-bot"}
    with running(db) as second, capture(db.bus) as cap:
        send(second.client("ingest"), recent(1, 1, leak))
        assert cap.keys == set()  # still firing from before the restart, within the window
        g = next(m for m in second.client("viewer").get("/api/v1/monitors").json()["monitors"]
                 if m["name"] == "pii_secret_leak")["groups"][0]
        assert g["state"] == "firing"


@pytest.mark.parametrize("content", [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "I am jane@example.org"},
     {"role": "assistant", "content": "Hi"}, {"role": "tool", "content": "card 4111 1111 1111 1111"},
     {"role": "user", "content": "call +1 415 555 0134 or 10.0.0.7"}],
    [{"role": "user", "content": None}, {"role": "user", "content": "ssn 123-45-6789"}],
])
def test_reused_privacy_scan_equals_a_fresh_scan(content: list[dict[str, object]]) -> None:
    p = prepare(CallIn.model_validate({"app": "a", "input": content, "output": "mail jane@example.org, 10.0.0.8",
                                       "started_at": datetime.now(UTC).isoformat()}), datetime.now(UTC))
    reused = view_of(p)
    fresh = CallView.from_record({**p.raw, "app": "a"})
    for where in ("input", "output"):
        assert reused.spans(where) == fresh.spans(where)
