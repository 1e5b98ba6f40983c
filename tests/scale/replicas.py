"""Three `fireline serve` replicas on one fresh PostgreSQL database and Redis (tests/scale and
bench/replicas.py): each its own process, port and data directory, as behind a load balancer."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from fireline.counters import namespace
from fireline.simulator.upstream import UpstreamServer
from tests.support.process import ServeProcess

PG_ADMIN_URL = os.environ.get("FIRELINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ADMIN_TOKEN = "fl-scale-admin-token"
MONITOR = {"name": "error_burst", "signal": "errors", "match": {"status": ["error"]}, "aggregate": "count",
           "window": "10m", "condition": "value >= 6", "min_count": 6, "group_by": ["app"],
           "type": "availability", "severity": "P2", "title": "Error burst on {group}"}
CONFIG: dict[str, Any] = {
    "apps": {"bot": {"fallback": "Paused; a person will reply."}, "rl-bot": {}, "spike-bot": {}},
    # Only PostgreSQL NOTIFY can carry a control change in time: the poll loop is slowed right down.
    "controls": {"poll_interval_s": 30},
    "monitors": [MONITOR],
}


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards."""
    import psycopg

    name = f"fireline_scale_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def replicas(base: Path, redis_url: str | None, n: int = 3) -> Iterator[list[ServeProcess]]:
    """`n` replicas (the first one migrates, then the others start together), the upstream
    simulator behind them; Redis keys of the deployment are deleted afterwards."""
    with database() as url, UpstreamServer(record=False) as upstream:
        env = {"FIRELINE_REDIS_URL": redis_url} if redis_url else {}
        procs = [ServeProcess(url, base / f"replica-{i}", admin_token=ADMIN_TOKEN, upstream_url=upstream.base_url,
                              config=CONFIG, env=env) for i in range(n)]
        started: list[ServeProcess] = []
        try:
            for p in procs:
                started.append(p.start())
            yield procs
        finally:
            for p in started:
                p.stop()
            if redis_url:
                import redis

                client = redis.Redis.from_url(redis_url)
                keys = list(client.scan_iter(match=namespace(url)
                                             + "*"))
                if keys:
                    client.delete(*keys)


def api(p: ServeProcess) -> httpx.Client:
    return httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)


def chat(client: httpx.Client, app: str, user: str = "u-1") -> httpx.Response:
    return client.post("/v1/chat/completions", headers={"X-Fireline-App": app, "X-Fireline-User": user},
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]})


def wait_revision(clients: list[httpx.Client], revision: int, timeout: float = 20.0) -> None:
    """Until every replica's control book is at `revision` (GET /api/v1/controls answers it)."""
    deadline = time.monotonic() + timeout
    for c in clients:
        while c.get("/api/v1/controls").json()["revision"] < revision:
            assert time.monotonic() < deadline, f"{c.base_url} did not reach revision {revision}"
            time.sleep(0.02)


def enforced_after(client: httpx.Client, app: str, contained: bool, since: float, out: list[float],
                   timeout: float = 10.0) -> None:
    """Seconds from `since` (the apply or revert on another replica returned) until this replica's
    gateway answers accordingly; appended to `out` (inf when it never did)."""
    while time.perf_counter() - since < timeout:
        r = chat(client, app)
        if ("x-fireline-contained" in r.headers) == contained:
            out.append(time.perf_counter() - since)
            return
    out.append(float("inf"))


def flip_samples(a: httpx.Client, others: list[httpx.Client], flips: int, app: str = "bot") -> list[float]:
    """Apply and revert a kill switch on `a` `flips` times; each time, how long until each of `others`
    enforces it (one sample per replica and direction)."""
    samples: list[float] = []
    active: str | None = None
    for _ in range(flips):
        if active is None:
            r = a.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": app}, "reason": "scale test"})
            assert r.status_code == 201, r.text
            active, contained = r.json()["id"], True
        else:
            r = a.delete(f"/api/v1/controls/{active}")
            assert r.status_code == 200, r.text
            active, contained = None, False
        since = time.perf_counter()
        threads = [threading.Thread(target=enforced_after, args=(c, app, contained, since, samples)) for c in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if active is not None:
        a.delete(f"/api/v1/controls/{active}")
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
