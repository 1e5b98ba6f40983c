"""The raw ASGI dispatch of native ingest (`POST /api/v1/calls`) and OTLP traces (`POST /v1/traces`)
answers exactly as the FastAPI routes do: each request is sent once through the dispatch and once
with the dispatch taken out of the running app (the FastAPI route), on SQLite and PostgreSQL, and
the two answers (status, headers, body, with the call ids each one made up put aside) must be
equal. The dispatch's counter proves which way answered."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from fireline.auth.service import forget_cache
from fireline.calls import service
from fireline.config import Config
from fireline.db import Database
from fireline.http import FastRoutes
from fireline.metrics import REGISTRY
from tests.support.fireline import Fireline, running

CALLS, TRACES = "/api/v1/calls", "/v1/traces"
PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
# Each way writes its own ids (so the second is no duplicate of the first), the same length.
TAGS = {"fast": "fa57", "app": "a990"}
ULID = re.compile(rb"[0-9A-HJKMNP-TV-Z]{26}")
Send = Callable[[httpx.Client, str], httpx.Response]


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    # a small OTLP limit, so the 413 needs no 64 MB body
    with running(db, Config.model_validate({"ingest": {"otlp_max_body_mb": 0.05}})) as server:
        yield server


def served(path: str, via: str) -> float:
    return REGISTRY.get_sample_value("fireline_fast_route_requests_total", {"path": path, "via": via}) or 0.0


def answer(resp: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    content = ULID.sub(b"<ulid>", resp.content.replace(TAGS["app"].encode(), TAGS["fast"].encode()))
    headers = {k: v for k, v in resp.headers.items() if k not in ("date", "server")}
    return resp.status_code, headers, content


def both(fl: Fireline, path: str, send: Send, role: str | None = "ingest") -> tuple[Any, Any]:
    """`send(client, tag)` through the fast dispatch, then through the FastAPI route."""
    fast = fl.app.middleware_stack
    assert isinstance(fast, FastRoutes)
    got = []
    with fl.client(role) as http:
        before = served(path, "fast")
        got.append(answer(send(http, TAGS["fast"])))
        assert served(path, "fast") == before + 1
        fl.app.middleware_stack = fast.inner
        try:
            got.append(answer(send(http, TAGS["app"])))
        finally:
            fl.app.middleware_stack = fast
        assert served(path, "fast") == before + 1
    return got[0], got[1]


def a_call(tag: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{tag}-1", "app": "support-bot", "user": "bob@example.com",
            "input": [{"role": "user", "content": "My card is 4111 1111 1111 1111, where is my order?"}],
            "output": "It ships tomorrow.", **extra}


def post(body: Any, headers: dict[str, str] | None = None) -> Send:
    def send(http: httpx.Client, tag: str) -> httpx.Response:
        content = body(tag) if callable(body) else body
        return http.post(CALLS, content=content if isinstance(content, bytes) else orjson.dumps(content),
                         headers=headers or JS)
    return send


NATIVE: dict[str, tuple[Send, int, str | None]] = {  # name: (request, expected status, role)
    "one call": (post(a_call), 201, "ingest"),
    "a batch, one without an id": (post(lambda t: {"calls": [a_call(t), {"app": "bot", "output": "x"}]}), 201,
                                   "ingest"),
    "a duplicate in the batch": (post(lambda t: {"calls": [a_call(t), a_call(t)]}), 201, "ingest"),
    "an admin key": (post(lambda t: a_call(t, id=f"{t}-2")), 201, "admin"),
    "no key": (post(a_call), 401, None),
    "a field wrong": (post(lambda t: a_call(t, input_tokens="many")), 422, "ingest"),
    "no app": (post({"output": "x"}), 422, "ingest"),
    "not JSON": (post(b"{nope"), 422, "ingest"),
    "a NUL in a text": (post(lambda t: a_call(t, output="a\u0000b")), 422, "ingest"),
    "over 1000 calls": (post({"calls": [{"app": "a", "output": "x"}] * 1001}), 422, "ingest"),
    "over 32 MB": (post({"app": "a", "output": "x" * (33 * 1024 * 1024)}), 413, "ingest"),
}


@pytest.mark.parametrize("case", list(NATIVE))
def test_native_ingest_answers_as_the_fastapi_route(fl: Fireline, case: str) -> None:
    send, status, role = NATIVE[case]
    fast, app = both(fl, CALLS, send, role)
    assert fast[0] == status
    assert fast == app


def test_a_key_not_in_the_cache_and_a_wrong_key(fl: Fireline) -> None:
    def fresh(key: str | None) -> Send:
        def send(http: httpx.Client, tag: str) -> httpx.Response:
            forget_cache()  # the key is read from the database (in a worker thread), not from memory
            return http.post(CALLS, json=a_call(tag), headers={"Authorization": f"Bearer {key or fl.keys['ingest']}"})
        return send

    assert both(fl, CALLS, fresh(None))[0][0] == 201
    fast, app = both(fl, CALLS, fresh("not-a-key"))
    assert fast[0] == 401 and fast == app


def test_database_away_answers_503_with_retry_after_both_ways(fl: Fireline, monkeypatch: pytest.MonkeyPatch) -> None:
    class Away:
        def add(self, *_: Any, **__: Any) -> int:
            raise OperationalError("INSERT INTO outbox", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(service, "outbox", Away())
    fast, app = both(fl, CALLS, post(a_call))
    assert fast[0] == 503 and fast[1]["retry-after"] == "5" and fast == app
    fast, app = both(fl, TRACES, export(span()))
    assert fast[0] == 503 and fast[1]["retry-after"] == "5" and fast == app


# ---- OTLP traces ----

def span(content: bool = True, span_id: str = "00000000000000a1") -> dict[str, Any]:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]
    if content:
        attrs.append({"key": "gen_ai.input.messages", "value": {"stringValue": orjson.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "mail me at bob@example.com"}]}]).decode()}})
    return {"spanId": span_id, "name": "chat gpt-4o", "startTimeUnixNano": "1764000000000000000",
            "endTimeUnixNano": "1764000001000000000", "attributes": attrs}


def export(*spans: dict[str, Any], headers: dict[str, str] | None = None, encode: str = "json",
           zipped: bool = False, key: str | None = "bearer") -> Send:
    def send(http: httpx.Client, tag: str) -> httpx.Response:
        body = {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "support-bot"}}]},
            "scopeSpans": [{"spans": [dict(s, traceId=tag * 8) for s in spans]}]}]}
        content = orjson.dumps(body)
        if encode == "protobuf":
            from fireline.ingest import otlp

            content = otlp.decode(content, otlp.JSON).SerializeToString()
        sent = dict(PB if encode == "protobuf" else JS)
        if zipped:
            content = gzip.compress(content)
            sent["Content-Encoding"] = "gzip"
        secret = http.headers["authorization"].removeprefix("Bearer ")
        if key == "header":  # the OTel exporters' header option
            sent["X-Fireline-Key"] = secret
        elif key == "bearer":
            sent["Authorization"] = f"Bearer {secret}"
        return httpx.post(str(http.base_url.join(TRACES)), content=content, headers={**sent, **(headers or {})})
    return send


def raw(content: bytes, headers: dict[str, str]) -> Send:
    return lambda http, _tag: http.post(TRACES, content=content, headers=headers)


OTLP: dict[str, tuple[Send, int]] = {
    "JSON": (export(span()), 200),
    "protobuf, gzip": (export(span(), encode="protobuf", zipped=True), 200),
    "X-Fireline-Key": (export(span(), key="header"), 200),
    "a span rejected (partial success)": (export(span(), span(span_id="zz")), 200),
    "no content captured (the late-content check)": (export(span(content=False)), 200),
    "empty export": (raw(b"", PB), 200),
    "no key": (export(span(), key=None), 401),
    "undecodable protobuf": (raw(b"\x0a\xff\xff\xff\x0fgarbage", PB), 400),
    "bad JSON": (raw(b'{"resourceSpans": [', JS), 400),
    "not gzip": (raw(b"not gzip", {**PB, "Content-Encoding": "gzip"}), 400),
    "text/plain": (raw(b"x", {"Content-Type": "text/plain"}), 415),
    "br encoding": (raw(b"x", {**PB, "Content-Encoding": "br"}), 415),
    "over the size limit": (raw(b"\x00" * 60_000, PB), 413),
}


@pytest.mark.parametrize("case", list(OTLP))
def test_otlp_traces_answer_as_the_fastapi_route(fl: Fireline, case: str) -> None:
    send, status = OTLP[case]
    fast, app = both(fl, TRACES, send)
    assert fast[0] == status
    assert fast == app


def test_requests_the_dispatch_does_not_take_reach_the_app(fl: Fireline) -> None:
    passed = served(CALLS, "app")
    with fl.client("ingest") as http:
        assert http.post(CALLS + "?dry=1", json=a_call("q1")).status_code == 201  # EngineSafe checks queries
        assert http.get(TRACES).status_code == 405  # other methods: FastAPI's answer
        fl.app.state.started = False  # start-up not complete: the start gate answers
        try:
            gated = http.post(CALLS, json=a_call("q2"))
        finally:
            fl.app.state.started = True
    assert gated.status_code == 503 and gated.headers["retry-after"] == "5"
    assert served(CALLS, "app") == passed + 2


# ---- any body ----

_scalar = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12) | st.sampled_from(["support-bot", "ok", "error", "user", "2026-12-06T10:00:00Z"]))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["role", "content", "name", "x"]), inner, max_size=3),
                      max_leaves=8)
_keys = st.sampled_from(["app", "input", "output", "model", "status", "input_tokens", "output_tokens", "user",
                         "tenant", "metadata", "latency_ms", "started_at", "calls", "session_id", "cost_usd",
                         "tool_calls", "extra"])  # no "id": each way gets fresh ids
_call = st.dictionaries(_keys, _value, max_size=6) | st.fixed_dictionaries(
    {"app": st.just("support-bot"), "output": st.text(max_size=30)}, optional={"input_tokens": _scalar})
_body = st.one_of(_call, st.builds(lambda calls: {"calls": calls}, st.lists(_call, max_size=3)), _value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_body | st.binary(max_size=40))
def test_any_body_gets_the_same_answer_both_ways(fl: Fireline, body: Any) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()  # ints past 64 bits too
    fast, app = both(fl, CALLS, lambda http, _tag: http.post(CALLS, content=content, headers=JS))
    assert fast == app
