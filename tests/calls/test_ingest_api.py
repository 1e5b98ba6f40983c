"""The prompt log over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fireline.calls.models import Call, CallRaw
from fireline.db import Database
from tests.support.fireline import Fireline, running

CARD = "4111 1111 1111 1111"


def a_call(i: int = 0, **over: object) -> dict[str, object]:
    call: dict[str, object] = {
        "id": f"c-{i}", "app": "support-bot", "environment": "prod", "tenant": "acme",
        "session_id": f"s-{i % 3}", "user": f"user{i % 4}@example.com", "model": "gpt-4o-2024-08-06",
        "prompt_version": "v12", "system_prompt": "You are a helpful support agent.",
        "input": [{"role": "user", "content": f"My e-mail is bob{i}@example.com, where is order {i}?"}],
        "output": f"Order {i} ships tomorrow.",
        "retrieval": [{"id": "kb-7", "source": "kb", "text": "Orders ship in 1-2 days."}],
        "tool_calls": [{"name": "lookup_order", "arguments": {"order": i}, "kind": "read"}],
        "input_tokens": 120, "output_tokens": 80, "cost_usd": 0.0012, "latency_ms": 850,
        "started_at": (datetime(2026, 11, 22, 10, 0, tzinfo=UTC) + timedelta(minutes=i)).isoformat(),
    }
    call.update(over)
    return call


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def stored(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Call)) or 0)


def test_batch_is_stored_and_resending_creates_no_duplicates(fl: Fireline) -> None:
    batch = {"calls": [a_call(i) for i in range(10)]}
    with fl.client("ingest") as http:
        first = http.post("/api/v1/calls", json=batch)
        again = http.post("/api/v1/calls", json=batch)
    assert first.status_code == 201 and first.json()["accepted"] == 10
    assert again.status_code == 201 and again.json() == {"accepted": 0, "duplicates": 10,
                                                         "ids": [f"c-{i}" for i in range(10)]}
    assert stored(fl.db) == 10


def test_single_call_without_id_gets_a_ulid(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        resp = http.post("/api/v1/calls", json={"app": "bot", "output": "hi"})
    assert resp.status_code == 201
    (call_id,) = resp.json()["ids"]
    assert len(call_id) == 26 and call_id.isalnum()


def test_invalid_item_names_index_and_field_and_writes_nothing(fl: Fireline) -> None:
    calls = [a_call(i) for i in range(5)]
    calls[3] = {**calls[3], "input_tokens": -4}
    with fl.client("ingest") as http:
        resp = http.post("/api/v1/calls", json={"calls": calls})
        missing = http.post("/api/v1/calls", json={"calls": [{"output": "x"}]})
        neither = http.post("/api/v1/calls", json={"app": "bot"})
        garbage = http.post("/api/v1/calls", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["field"] == "calls[3].input_tokens"
    assert missing.status_code == 422 and missing.json()["field"] == "calls[0].app"
    assert neither.status_code == 422 and "input" in neither.json()["detail"]
    assert garbage.status_code == 422 and "JSON" in garbage.json()["detail"]
    assert stored(fl.db) == 0


def test_batch_over_1000_and_oversized_body_are_refused(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        too_many = http.post("/api/v1/calls", json={"calls": [{"app": "a", "output": "x"}] * 1001})
        huge = http.post("/api/v1/calls", json={"app": "a", "output": "x" * (33 * 1024 * 1024)})
    assert too_many.status_code == 422 and "1000" in too_many.json()["detail"]
    assert huge.status_code == 413
    assert stored(fl.db) == 0


def test_keys_and_roles(fl: Fireline) -> None:
    with fl.client(None) as anon, fl.client("ingest") as ingest, fl.client("viewer") as viewer:
        assert anon.get("/api/v1/calls").status_code == 401
        assert anon.post("/api/v1/calls", json=a_call()).status_code == 401
        bad = anon.get("/api/v1/calls", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert ingest.get("/api/v1/calls").status_code == 403
        assert viewer.post("/api/v1/keys", json={"role": "admin"}).status_code == 403
    with fl.client("admin") as admin:
        made = admin.post("/api/v1/keys", json={"role": "viewer", "name": "dash"})
        assert made.status_code == 201 and made.json()["role"] == "viewer"
        new_key = made.json()["key"]
        assert admin.post("/api/v1/keys", json={"role": "king"}).status_code == 422
        import httpx

        with httpx.Client(base_url=fl.url, headers={"Authorization": f"Bearer {new_key}"}) as fresh:
            assert fresh.get("/api/v1/calls").status_code == 200
            assert admin.delete(f"/api/v1/keys/{made.json()['id']}").status_code == 200
            from fireline.auth.service import forget_cache

            forget_cache()
            assert fresh.get("/api/v1/calls").status_code == 401


def test_viewer_sees_redacted_responder_sees_raw_and_is_logged(fl: Fireline) -> None:
    call = a_call(1, output=f"Charged card {CARD} for bob1@example.com")
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json=call)
    with fl.client("viewer") as viewer:
        red = viewer.get("/api/v1/calls/c-1").json()
        assert viewer.get("/api/v1/calls/c-1", params={"raw": "true"}).status_code == 403
    assert red["content_view"] == "redacted"
    assert CARD not in red["output"] and "<CREDIT_CARD>" in red["output"]
    assert "<EMAIL_ADDRESS>" in red["input"][0]["content"]
    assert "user_pseudonym" in red and "user" not in red
    with fl.client("responder") as responder:
        raw = responder.get("/api/v1/calls/c-1", params={"reason": "INC-1 triage"}).json()
    assert raw["content_view"] == "raw" and CARD in raw["output"]
    with fl.client("admin") as admin:
        log = admin.get("/api/v1/access-log", params={"call_id": "c-1"}).json()["entries"]
    assert len(log) == 1 and log[0]["reason"] == "INC-1 triage" and log[0]["role"] == "responder"
    with fl.db.session() as s:
        blob = s.get(CallRaw, "c-1").blob  # type: ignore[union-attr]
    assert CARD.encode() not in blob and b"example.com" not in blob


def test_raw_content_is_encrypted_even_when_the_pass_finds_nothing(fl: Fireline) -> None:
    """What the scanner misses (here a name and a street) must not sit only in the clear copy."""
    text = "Please ship it to Wilhelmina Quarterfield, 12 Larkspur Lane"
    with fl.client("ingest") as http:
        assert http.post("/api/v1/calls", json={"id": "c-plain", "app": "bot",
                                                  "input": [{"role": "user", "content": text}]}).status_code == 201
    with fl.db.session() as s:
        call = s.get(Call, "c-plain")
        blob = s.get(CallRaw, "c-plain").blob  # type: ignore[union-attr]
    assert call is not None and call.has_raw and b"Quarterfield" not in blob
    with fl.client("responder") as responder:
        raw = responder.get("/api/v1/calls/c-plain").json()
    assert raw["content_view"] == "raw" and raw["input"][0]["content"] == text


def test_search_filters_and_cursor(fl: Fireline) -> None:
    calls = [a_call(i, tenant="acme" if i % 2 else "globex", model="gpt-4o" if i < 6 else "gpt-4o-mini",
                    status="error" if i == 7 else "ok") for i in range(12)]
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json={"calls": calls})
    with fl.client("viewer") as viewer:
        def ids(**params: object) -> list[str]:
            return [c["id"] for c in viewer.get("/api/v1/calls", params=params).json()["calls"]]

        assert ids(tenant="acme") == [f"c-{i}" for i in (11, 9, 7, 5, 3, 1)]
        assert ids(model="gpt-4o-mini", tenant="globex") == ["c-10", "c-8", "c-6"]
        assert ids(status="error") == ["c-7"]
        assert sorted(ids(user="user1@example.com")) == ["c-1", "c-5", "c-9"]
        assert ids(q="ORDER 11 ships") == ["c-11"]
        assert ids(since="2026-11-22T10:10:00Z") == ["c-11", "c-10"]
        assert ids(until="2026-11-22T10:02:00Z") == ["c-1", "c-0"]
        assert ids(q="bob3@example.com") == []  # the address was redacted before storage
        assert viewer.get("/api/v1/calls/count", params={"tenant": "acme"}).json() == {"count": 6}
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = viewer.get("/api/v1/calls", params=params).json()
            seen += [c["id"] for c in page["calls"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"c-{i}" for i in range(11, -1, -1)]
        assert viewer.get("/api/v1/calls", params={"cursor": "garbage"}).status_code == 422
        assert viewer.get("/api/v1/calls/nope").status_code == 404


def test_unknown_keys_go_to_metadata_and_system_prompt_is_hashed(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json=a_call(2, feature_flag="new-ui", metadata={"region": "eu"}))
    with fl.client("responder") as r:
        got = r.get("/api/v1/calls/c-2").json()
    assert got["metadata"] == {"feature_flag": "new-ui", "region": "eu"}
    import hashlib

    assert got["system_prompt_sha256"] == hashlib.sha256(b"You are a helpful support agent.").hexdigest()
    assert got["tool_calls"][0]["kind"] == "read"


def test_erasure_deletes_a_person_everywhere(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json={"calls": [a_call(i) for i in range(8)]})
    with fl.client("responder") as r:
        report = r.delete("/api/v1/subjects/user1@example.com").json()
        left = r.get("/api/v1/calls", params={"user": "user1@example.com"}).json()["calls"]
    assert report["deleted_calls"] == 2 and report["held_calls"] == 0 and report["held_by"] == []
    assert left == []
    assert stored(fl.db) == 6
