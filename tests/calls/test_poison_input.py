"""Poison input on the native paths: values the database refuses get a 4xx naming the field
before anything reaches SQL, and one row the database still refuses never costs its batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import func, select

from fireline.calls import service
from fireline.calls.models import Call, DeadLetter
from fireline.calls.schemas import CallIn
from fireline.db import Database
from fireline.metrics import REGISTRY
from tests.calls.test_ingest_api import a_call
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def stored(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Call)) or 0)


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(("poison", "field"), [
    ({"model": "gpt\x00-4o"}, "calls[1].model"),
    ({"input": [{"role": "user", "content": "hi\x00there"}]}, "calls[1].input[0].content"),
    ({"metadata": {"k\x00": 1}}, "calls[1].metadata.k\x00"),
    ({"input_tokens": 2**63}, "calls[1].input_tokens"),
    ({"input_tokens": 2**31}, "calls[1].input_tokens"),
    ({"metadata": nested(300)}, "calls[1].metadata.a.a"),
    ({"model": {"name": "gpt-4o"}}, "calls[1].model"),
    ({"input": [{"role": "user", "content": 5}]}, "calls[1].input[0].content"),
    ({"input": [{"role": "u" * 65, "content": "hi"}]}, "calls[1].input[0].role"),
    ({"started_at": "9999-12-31T23:00:00-12:00"}, "calls[1].started_at"),  # year 10000 in UTC
    ({"started_at": "0001-01-01T01:00:00+14:00"}, "calls[1].started_at"),  # year 0 in UTC
])
def test_a_value_the_engine_refuses_is_a_422_naming_the_field(fl: Fireline, poison: dict[str, Any],
                                                               field: str) -> None:
    batch = {"calls": [a_call(0), a_call(1, **poison), a_call(2)]}
    with fl.client("ingest") as http:
        resp = http.post("/api/v1/calls", json=batch)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"].startswith(field.split("\x00")[0]), resp.json()
    assert stored(fl.db) == 0  # the whole batch is refused: never a half-written record


def test_lone_surrogate_in_a_body_is_refused(fl: Fireline) -> None:
    body = b'{"app": "bot", "output": "x\\ud800y"}'
    with fl.client("ingest") as http:
        resp = http.post("/api/v1/calls", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422 and "surrogate" in resp.text


@pytest.mark.parametrize("query", ["q=a%00b", "app=x%00", "user=%00", "model=%00"])
def test_search_filters_refuse_nul_with_the_parameter_named(fl: Fireline, query: str) -> None:
    with fl.client("viewer") as http:
        for path in ("/api/v1/calls", "/api/v1/calls/count"):
            resp = http.get(f"{path}?{query}")
            assert resp.status_code in (400, 422), (path, query, resp.text)
            if resp.status_code == 422 and "field" in resp.json():
                assert resp.json()["field"] == query.split("=")[0]


TOO_LATE = "9999-12-31T23:59:59-12:00"  # a valid ISO time whose UTC instant is in year 10000


@pytest.mark.parametrize(("path", "param"), [
    ("/api/v1/calls", "since"), ("/api/v1/calls", "until"), ("/api/v1/calls/count", "until"),
    ("/api/v1/dead-letters", "since"), ("/api/v1/changes", "since"), ("/api/v1/changes", "until")])
def test_a_time_filter_outside_the_utc_range_is_a_422_naming_it(fl: Fireline, path: str, param: str) -> None:
    with fl.client("admin") as http:
        resp = http.get(path, params={param: TOO_LATE})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == param


def test_times_in_other_bodies_outside_the_utc_range_are_a_422_naming_them(fl: Fireline) -> None:
    with fl.client("admin") as http:
        change = http.post("/api/v1/changes", json={"kind": "prompt", "app": "bot", "at": TOO_LATE})
        report = http.post("/api/v1/reports", json={"call_id": "c-1", "kind": "thumbs_down", "at": TOO_LATE})
        control = http.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "bot"},
                                                       "reason": "r", "expires_at": TOO_LATE})
    for resp, field in ((change, "at"), (report, "at"), (control, "expires_at")):
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == field, resp.text


def test_call_id_with_nul_in_the_path_is_a_4xx(fl: Fireline) -> None:
    with fl.client("viewer") as http:
        resp = http.get("/api/v1/calls/abc%00def")
    assert resp.status_code in (404, 422)


def test_other_json_routes_refuse_nul_naming_the_field(fl: Fireline) -> None:
    with fl.client("admin") as http:
        report = http.post("/api/v1/reports", json={"call_id": "c-1", "kind": "thumbs_down", "text": "bad\x00"})
        incident = http.post("/api/v1/incidents", json={"title": "leak\x00", "type": "data_leakage",
                                                         "severity": "P1"})
        change = http.post("/api/v1/changes", json={"kind": "prompt", "app": "bot", "description": "x\x00"})
    for resp, field in ((report, "text"), (incident, "title"), (change, "description")):
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == field


def test_a_row_the_database_refuses_is_dead_lettered_and_the_rest_stored(db: Database) -> None:
    calls = [CallIn.model_validate(a_call(i)) for i in range(5)]
    # What validation missed (a bypass such as a plug-in): the guard before SQL refuses the row.
    calls[2].tenant = "acme\x00"
    outcome = service.ingest(db, calls, source="api")
    assert len(outcome.inserted) == 4
    assert [d.call_id for d in outcome.dead] == ["c-2"]
    assert "tenant" in outcome.dead[0].reason and "NUL" in outcome.dead[0].reason
    assert stored(db) == 4
    with db.session() as s:
        row = s.scalar(select(DeadLetter))
        assert row is not None and row.call_id == "c-2" and row.source == "api" and row.stage == "store"
        assert row.blob is not None and b"acme" not in row.blob  # kept encrypted
    metrics = generate_latest(REGISTRY).decode()
    assert 'fireline_dead_letters_total{source="api",stage="store"}' in metrics


def test_dead_letters_are_listed_for_admins(fl: Fireline) -> None:
    calls = [CallIn.model_validate(a_call(i)) for i in range(3)]
    calls[1].model = "m\x00"
    service.ingest(fl.db, calls, source="gateway")
    with fl.client("admin") as http:
        listing = http.get("/api/v1/dead-letters").json()["dead_letters"]
        one = http.get(f"/api/v1/dead-letters/{listing[0]['id']}", params={"content": "true", "reason": "t"})
    with fl.client("viewer") as http:
        assert http.get("/api/v1/dead-letters").status_code == 403
    assert [(d["call_id"], d["source"]) for d in listing] == [("c-1", "gateway")]
    assert "model" in listing[0]["reason"]
    assert one.status_code == 200 and one.json()["record"]["id"] == "c-1"
