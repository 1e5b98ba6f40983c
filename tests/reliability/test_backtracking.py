"""A catastrophic-backtracking block pattern is either refused (RE2 cannot run it) or runs in
linear time: the gateway and /healthz stay fast. (The 50 ms target is measured by
bench/backtracking.py; here the bound is generous, since a backtracking engine would take
hours on these inputs, and the shared machine is slow at times.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def fl(sqlite_db: Database) -> Iterator[Fireline]:
    with UpstreamServer(record=False) as upstream, \
            running(sqlite_db, Config.model_validate({"apps": {"bot": {"fallback": "Blocked."}}}),
                    upstream_url=upstream.base_url) as server:
        yield server


@pytest.mark.parametrize("pattern", [r"(?=a)(a+)+$", r"(a+)\1$", r"(?<!b)a+$"])
def test_a_pattern_re2_cannot_run_is_refused_naming_the_field(fl: Fireline, pattern: str) -> None:
    with fl.client("responder") as http:
        r = http.post("/api/v1/controls", json={"kind": "block_pattern", "scope": {"app": "bot"},
                                                "params": {"pattern": pattern, "on": "input"}})
    assert r.status_code == 422 and r.json()["field"] == "params.pattern", r.text


@pytest.mark.parametrize("on", ["input", "output"])
def test_a_catastrophic_pattern_runs_in_linear_time(fl: Fireline, on: str) -> None:
    with fl.client("responder") as http:
        r = http.post("/api/v1/controls", json={"kind": "block_pattern", "scope": {"app": "bot"},
                                                "params": {"pattern": r"(a+)+$", "on": on}})
        assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {fl.keys['ingest']}", "X-Fireline-App": "bot"}
    slowest = 0.0
    with httpx.Client(base_url=fl.url, timeout=60) as http:
        for n in (26, 40, 10_000, 200_000):
            text = "a" * n + "!"
            start = time.perf_counter()
            mode = {"X-Upstream-Mode": "leak_pii", "X-Upstream-Params": f'{{"text": "{text}"}}'} if on == "output" \
                else {}
            answer = http.post("/v1/chat/completions", headers={**headers, **mode},
                               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
            slowest = max(slowest, time.perf_counter() - start)
            assert answer.status_code == 200
            start = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0  # exponential backtracking: 40 characters would take days
