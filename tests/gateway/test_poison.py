"""Poison through the gateway: what the log could not store is refused before the upstream is
called (400 in OpenAI's shape naming the field); an odd answer from the upstream is cleaned and
logged; innocent calls around poison ones are all stored."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import APP, HEADERS, client, logged, rows, wait_rows
from tests.support.fireline import Fireline


def body(**over: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-2024-08-06", "messages": [{"role": "user", "content": "Where is my order?"}], **over}


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


POISON: list[tuple[dict[str, Any], dict[str, bytes], str]] = [
    (body(model="gpt\x00"), {}, "model"),
    (body(model={"name": "gpt-4o"}), {}, "model"),
    (body(messages=[{"role": "user", "content": "a\x00b"}]), {}, "messages[0].content"),
    (body(messages=[{"role": "user", "content": 7}]), {}, "messages[0].content"),
    (body(messages=[{"role": "x" * 65, "content": "hi"}]), {}, "messages[0].role"),
    (body(messages=[{"content": "no role"}]), {}, "messages[0].role"),
    (body(messages=["just a string"]), {}, "messages[0]"),
    (body(metadata=nested(300)), {}, "metadata"),
    (body(seed=2**63), {}, "seed"),
    (body(tools=[{"type": "function", "function": "not-an-object"}]), {}, "tools[0]"),
    (body(), {"X-Fireline-User": b"u" * 501}, "x-fireline-user"),
    (body(), {"X-Fireline-Session": b"s" * 201}, "x-fireline-session"),
    (body(), {"X-Fireline-Prompt-Version": b"v" * 101}, "x-fireline-prompt-version"),
    (body(), {"X-Fireline-Tenant": b"\xff\xfe-not-utf8"}, "x-fireline-tenant"),
    (body(), {"X-Fireline-App": b"caf\xe9"}, "x-fireline-app"),
]


@pytest.mark.parametrize(("payload", "headers", "param"), POISON)
def test_poison_request_is_refused_before_the_upstream_naming_the_field(
        fl: Fireline, upstream: UpstreamServer, payload: dict[str, Any], headers: dict[str, bytes],
        param: str) -> None:
    before = upstream.script.count
    with httpx.Client(base_url=fl.url, timeout=10) as http:
        resp = http.post("/v1/chat/completions", content=json.dumps(payload).encode(),
                         headers={"Authorization": f"Bearer {fl.keys['ingest']}", "Content-Type": "application/json",
                                  "X-Fireline-App": APP, **headers})
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"].startswith(param), err
    assert upstream.script.count == before  # never forwarded


def test_an_answer_with_nul_and_huge_usage_is_served_and_logged_cleaned(fl: Fireline,
                                                                        upstream: UpstreamServer) -> None:
    upstream.add_rule("token_explosion", {"text": "your order\x00 ships", "tokens": 2**40})
    resp = client(fl).chat.completions.with_raw_response.create(
        model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hi"}], extra_headers=HEADERS)
    assert resp.http_response.status_code == 200
    call = logged(fl, resp.headers["x-fireline-call-id"])
    assert call["output"] == "your order\ufffd ships"
    assert call["output_tokens"] is None  # beyond the column: not stored as a wrong number


def test_innocent_calls_around_poison_ones_are_all_stored(fl: Fireline) -> None:
    async def run() -> tuple[list[str], int]:
        ok: list[str] = []
        refused = 0
        async with httpx.AsyncClient(base_url=fl.url, timeout=30) as http:
            auth = {"Authorization": f"Bearer {fl.keys['ingest']}", **HEADERS}

            async def one(i: int) -> None:
                nonlocal refused
                poison = i % 10 == 3
                payload = body(model="gpt\x00" if poison else "gpt-4o-2024-08-06",
                               messages=[{"role": "user", "content": f"question {i}"}])
                r = await http.post("/v1/chat/completions", json=payload, headers=auth)
                if poison:
                    assert r.status_code == 400
                    refused += 1
                else:
                    assert r.status_code == 200, r.text
                    ok.append(r.headers["x-fireline-call-id"])

            await asyncio.gather(*(one(i) for i in range(60)))
        return ok, refused

    ok, refused = asyncio.run(run())
    assert refused == 6 and len(ok) == 54
    assert wait_rows(fl.db, 54) == 54
    assert rows(fl.db) == 54
