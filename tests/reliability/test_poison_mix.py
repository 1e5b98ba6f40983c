"""1% poison mixed into gateway and native traffic: no innocent call is lost, and every poison
request is answered 4xx naming what was wrong (or dead-lettered with its reason)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.reliability.conftest import ADMIN_TOKEN, ingest_key, serve
from tests.reliability.load import (
    Http,
    Outcome,
    chat_body,
    gateway_call,
    native_batch,
    native_call,
    open_loop,
    wait_stored,
)

pytestmark = pytest.mark.timeout(600)
RATE, DURATION = 150.0, 6.0


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# (what is wrong, body bytes or None, extra headers)
GATEWAY_POISON: list[tuple[str, bytes | None, dict[str, Any]]] = [
    ("NUL in model", json.dumps({**chat_body(0), "model": "gpt\u0000"}).encode(), {}),
    ("model as an object", json.dumps({**chat_body(0), "model": {"id": "gpt-4o"}}).encode(), {}),
    ("nested 300 deep", json.dumps({**chat_body(0), "metadata": deep(300)}).encode(), {}),
    ("non-string content", json.dumps({**chat_body(0), "messages": [{"role": "user", "content": 42}]}).encode(), {}),
    ("long role", json.dumps({**chat_body(0), "messages": [{"role": "r" * 500, "content": "hi"}]}).encode(), {}),
    ("over-long user header", None, {"X-Fireline-User": "u" * 600}),
    ("over-long session header", None, {"X-Fireline-Session": "s" * 300}),
    ("over-long prompt version header", None, {"X-Fireline-Prompt-Version": "v" * 200}),
    ("non-UTF-8 header", None, {"X-Fireline-Tenant": b"\xc3\x28bad"}),
    ("64-bit overflow", json.dumps({**chat_body(0), "seed": 2**63}).encode(), {}),
]
NATIVE_POISON: list[tuple[str, dict[str, Any]]] = [
    ("NUL in model", {"model": "m\u0000"}),
    ("input_tokens >= 2**63", {"input_tokens": 2**63}),
    ("nested 300 deep", {"metadata": {"deep": deep(300)}}),
    ("model as an object", {"model": {"id": "m"}}),
    ("NUL in content", {"input": [{"role": "user", "content": "a\u0000b"}]}),
]


def test_poison_requests_fail_alone(db: Database, upstream: UpstreamServer, tmp_path: Path) -> None:
    db.upgrade()
    with serve(db.url, tmp_path / "data", upstream) as server:
        key = ingest_key(server)
        poison_seen: list[tuple[str, Outcome]] = []

        async def gw(http: Http, i: int) -> Outcome:
            if i % 100 == 7:  # 1%
                what, body, headers = GATEWAY_POISON[(i // 100) % len(GATEWAY_POISON)]
                out = await gateway_call(http, i, key, kind="poison-gateway", headers=headers,
                                         content=body if body is not None else json.dumps(chat_body(i)).encode())
                poison_seen.append((what, out))
                return out
            return await gateway_call(http, i, key)

        async def native(http: Http, i: int) -> Outcome:
            if i % 100 == 13:
                what, poison = NATIVE_POISON[(i // 100) % len(NATIVE_POISON)]
                calls = [native_call(i * 5, "mix"), {**native_call(i * 5 + 1, "mix"), **poison}]
                out = await native_batch(http, i, key, calls=calls, kind="poison-native")
                poison_seen.append((what, out))
                return out
            return await native_batch(http, i, key, prefix="mix")

        async def run() -> list[Outcome]:
            a, b = await asyncio.gather(open_loop(server.url, RATE, DURATION, gw),
                                        open_loop(server.url, RATE / 3, DURATION * 3, native))
            return [*a, *b]

        outcomes = asyncio.run(run())
        innocent = [o for o in outcomes if not o.kind.startswith("poison")]
        assert all(o.answered_2xx for o in innocent), [o for o in innocent if not o.answered_2xx][:3]
        answered = [i for o in innocent for i in o.ids]
        found = wait_stored(db, answered)
        dead = httpx.get(server.url + "/api/v1/dead-letters", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                         timeout=30).json()["dead_letters"]
        print(f"\npoison mix on {db.dialect}: {len(innocent)} innocent requests ({len(answered)} calls), "
              f"{len(set(answered) - found)} lost; {len(poison_seen)} poison requests: "
              f"{sorted({(o.status, w) for w, o in poison_seen})[:20]}; dead letters: {len(dead)}")
        assert set(answered) - found == set()
        assert len(poison_seen) >= 10
        for what, out in poison_seen:  # each refused with a 4xx that names the field
            assert out.status is not None and 400 <= out.status < 500, (what, out)
            assert "param" in out.detail or "field" in out.detail, (what, out.detail)
        assert all(d["reason"] for d in dead)
