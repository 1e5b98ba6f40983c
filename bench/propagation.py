"""Propagation: time from `POST /api/v1/controls` (or the revert's DELETE) returning to the change
being enforced by (a) the next gateway request and (b) a `fireline.guard.Guard` instance.

    .venv/bin/python bench/propagation.py [--flips 200] [--database-url URL]

Runs a real server (uvicorn on loopback, SQLite in a temp dir unless --database-url), the
upstream simulator for the gateway, and a Guard on the SSE stream. Every flip alternates
applying and reverting a kill switch; each direction is one sample. Target: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from fireline.api import create_app
from fireline.auth import service as keys
from fireline.config import Config
from fireline.db import Database
from fireline.guard import Guard
from fireline.serving import ServerThread

APP = "bench-bot"
TARGET_P99_MS = 100.0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.50) * 1e3, "p99_ms": pick(0.99) * 1e3,
            "max_ms": ordered[-1] * 1e3, "mean_ms": statistics.fmean(ordered) * 1e3}


def _flip(api: httpx.Client, active: str | None) -> tuple[str | None, int, str]:
    """Apply a kill switch (active is None) or revert it; returns (active id, revision, control id)."""
    if active is None:
        r = api.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": APP}, "reason": "bench"})
        r.raise_for_status()
        return r.json()["id"], r.json()["revision"], r.json()["id"]
    r = api.delete(f"/api/v1/controls/{active}")
    r.raise_for_status()
    return None, r.json()["revision"], active


def measure_guard(url: str, responder_key: str, ingest_key: str, flips: int) -> dict[str, float]:
    """(b) POST/DELETE returns -> the Guard's in-memory state shows the change. The server pushes
    the new state before it answers, so this is often ~0; `from_send_*` counts from the request's
    start (the API call included)."""
    samples: list[float] = []
    from_send: list[float] = []
    with Guard(url, ingest_key, APP) as guard, \
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {responder_key}"}) as api:
        if not guard.wait_ready(10):
            raise RuntimeError(f"guard got no state: {guard.last_error}")
        active: str | None = None
        for _ in range(flips):
            sent = time.perf_counter()
            active, revision, _cid = _flip(api, active)
            t0 = time.perf_counter()
            if not guard.wait_for_revision(revision, 5):
                raise RuntimeError(f"guard did not reach revision {revision} in 5 s")
            t1 = time.perf_counter()
            samples.append(t1 - t0)
            from_send.append(t1 - sent)
            if guard.enabled() != (active is None):
                raise RuntimeError("guard state disagrees with the control just applied")
        if active is not None:
            _flip(api, active)
    stats = percentiles(samples)
    whole = percentiles(from_send)
    stats.update(from_send_p50_ms=whole["p50_ms"], from_send_p99_ms=whole["p99_ms"])
    return stats


def measure_gateway(url: str, responder_key: str, gateway_key: str, flips: int) -> dict[str, float] | None:
    """(a) POST/DELETE returns -> a gateway request carries (or stops carrying) X-Fireline-Contained
    with the kill switch's id. Polls gateway requests back to back; None without a gateway."""
    if importlib.util.find_spec("fireline.gateway") is None or \
            importlib.util.find_spec("fireline.gateway.proxy") is None:
        print("gateway: not measured (no gateway)")
        return None
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    gw_headers = {"Authorization": f"Bearer {gateway_key}", "X-Fireline-App": APP, "X-Fireline-User": "bench"}
    samples: list[float] = []
    requests_per_sample: list[int] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {responder_key}"}) as api, \
            httpx.Client(base_url=url, headers=gw_headers, timeout=10) as gw:
        first = gw.post("/v1/chat/completions", json=body)
        if first.status_code != 200:
            raise RuntimeError(f"gateway answered {first.status_code}: {first.text[:200]}")
        active: str | None = None
        for _ in range(flips):
            active, _revision, cid = _flip(api, active)
            want = active is not None
            t0 = time.perf_counter()
            n = 0
            while True:
                n += 1
                resp = gw.post("/v1/chat/completions", json=body)
                contained = cid in resp.headers.get("x-fireline-contained", "")
                if contained == want:
                    break
                if time.perf_counter() - t0 > 5:
                    raise RuntimeError("gateway did not enforce the change within 5 s")
            samples.append(time.perf_counter() - t0)
            requests_per_sample.append(n)
        if active is not None:
            _flip(api, active)
    stats = percentiles(samples)
    stats["max_requests_until_seen"] = float(max(requests_per_sample))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flips", type=int, default=200)
    parser.add_argument("--database-url", default=None,
                        help="a dedicated, disposable database (it is migrated and written); default: "
                             "SQLite in a temp dir")
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="fireline-bench-")
    db = Database(args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}")
    config = Config.model_validate({"apps": {APP: {"models": ["gpt-4o-mini"], "fallback": "paused"}}})
    upstream: Any = None
    app = create_app(db, config)
    if importlib.util.find_spec("fireline.simulator.upstream") is not None:
        from fireline.simulator.upstream import UpstreamServer

        upstream = UpstreamServer(record=False).start()
        app.state.upstream_url = upstream.base_url
    server = ServerThread(app).start()
    try:
        with db.writing() as session:
            _, responder = keys.create_key(session, "responder", "bench")
            _, ingest = keys.create_key(session, "ingest", "bench")
        print(f"propagation bench: {args.flips} flips, {db.dialect}, server {server.url}")
        guard = measure_guard(server.url, responder, ingest, args.flips)
        print("guard:   " + "  ".join(f"{k}={v:.2f}" for k, v in guard.items()))
        gateway = measure_gateway(server.url, responder, ingest, args.flips)
        if gateway is not None:
            print("gateway: " + "  ".join(f"{k}={v:.2f}" for k, v in gateway.items()))
    finally:
        server.stop()
        if upstream is not None:
            upstream.stop()
        db.dispose()
        tmp.cleanup()
    worst = max(guard["p99_ms"], gateway["p99_ms"] if gateway else 0.0)
    verdict = "PASS" if worst <= TARGET_P99_MS else "FAIL"
    gw_text = (f"gateway p50={gateway['p50_ms']:.2f}ms p99={gateway['p99_ms']:.2f}ms n={gateway['n']:.0f}"
               if gateway else "gateway not measured")
    print(f"RESULT propagation guard p50={guard['p50_ms']:.2f}ms p99={guard['p99_ms']:.2f}ms "
          f"(from send p99={guard['from_send_p99_ms']:.2f}ms) n={guard['n']:.0f}; {gw_text}; "
          f"target p99<={TARGET_P99_MS:.0f}ms {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
