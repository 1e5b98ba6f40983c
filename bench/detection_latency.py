"""Time from a leaking call to its incident, under 1,000 calls/s of background traffic.

Starts `fireline serve` on a fresh SQLite file, registers a canary for tenant acme, and sends
background traffic (batches of 100 ordinary calls every 100 ms) through POST /api/v1/calls.
Each trial then sends one call that serves acme's canary to tenant globex (a P0 cross-tenant
leak) for a fresh app, and polls GET /api/v1/incidents?app=... until the incident exists
(or, without the incidents part, GET /api/v1/monitors/alerts). Prints p50/p99 over the
trials, the background rate achieved, and a RESULT line. Target: p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from _server import ADMIN, fireline_server  # noqa: E402

TOKEN = "CNRY-acme-" + uuid.uuid4().hex[:12]
TEXT = ("Thanks for reaching out about your order. The parcel left the warehouse yesterday "
        "and should arrive within two business days. ")


def ordinary(i: int) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "app": f"app-{i % 5}", "tenant": f"t-{i % 50}", "user": f"user-{i % 5000}",
            "model": "gpt-4o-2024-08-06", "prompt_version": "v12", "session_id": f"s-{i % 500}",
            "input": [{"role": "user", "content": f"Where is order {i}? " + TEXT}], "output": TEXT * 3,
            "tool_calls": [{"name": "lookup_order", "arguments": {"order": i % 1000}, "kind": "read"}],
            "input_tokens": 300, "output_tokens": 120, "cost_usd": 0.002, "latency_ms": 800 + i % 200,
            "started_at": datetime.now(UTC).isoformat()}


def leaking(app: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "app": app, "tenant": "globex", "user": "mallory",
            "input": [{"role": "user", "content": "Show me the latest contract."}],
            "output": f"Here is the contract {TOKEN} you asked for.", "started_at": datetime.now(UTC).isoformat()}


async def background(session: aiohttp.ClientSession, url: str, headers: dict[str, str], rate: int,
                     stop: asyncio.Event, sent: list[int]) -> None:
    batch = max(1, rate // 10)
    i = 0
    next_at = time.perf_counter()
    while not stop.is_set():
        body = {"calls": [ordinary(i + j) for j in range(batch)]}
        i += batch
        async with session.post(url + "/api/v1/calls", json=body, headers=headers) as r:
            if r.status != 201:
                raise RuntimeError(f"background ingest answered {r.status}: {await r.text()}")
        sent[0] += batch
        next_at += batch / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def found(session: aiohttp.ClientSession, url: str, headers: dict[str, str], app: str, incidents: bool) -> bool:
    if incidents:
        async with session.get(url + "/api/v1/incidents", params={"app": app}, headers=headers) as r:
            body = await r.json()
            return any(i.get("dedup_key") == f"monitor:canary_leak:app={app}" for i in body["incidents"])
    async with session.get(url + "/api/v1/monitors/alerts", params={"dedup_key": f"monitor:canary_leak:app={app}"},
                           headers=headers) as r:
        return bool((await r.json())["alerts"])


async def run(url: str, trials: int, rate: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession() as session:
        canary = {"tenant": "acme", "token": TOKEN}
        async with session.post(url + "/api/v1/canaries", json=canary, headers=headers) as r:
            assert r.status == 201, await r.text()
        async with session.get(url + "/api/v1/incidents", headers=headers) as r:
            incidents = r.status == 200
        stop, sent = asyncio.Event(), [0]
        bg = asyncio.create_task(background(session, url, headers, rate, stop, sent))
        await asyncio.sleep(2.0)  # let the background reach its rate
        t_bg, n_bg = time.perf_counter(), sent[0]
        latencies: list[float] = []
        for k in range(trials):
            app = f"leak-app-{k}-{uuid.uuid4().hex[:6]}"
            t0 = time.perf_counter()
            async with session.post(url + "/api/v1/calls", json=leaking(app), headers=headers) as r:
                assert r.status == 201, await r.text()
            while not await found(session, url, headers, app, incidents):
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"no incident for {app} after 30 s")
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
        bg_rate = (sent[0] - n_bg) / (time.perf_counter() - t_bg)
        stop.set()
        await bg
    latencies.sort()
    return {"p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
            "max_ms": latencies[-1] * 1000, "background_calls_per_s": bg_rate, "trials": len(latencies),
            "via_incidents": float(incidents)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--rate", type=int, default=1000, help="background calls per second")
    args = ap.parse_args()
    with fireline_server() as (url, _pid):
        r = asyncio.run(run(url, args.trials, args.rate))
    target = "met" if r["p99_ms"] <= 1000 else "MISSED"
    print(f"leak -> {'incident' if r['via_incidents'] else 'alert'}: p50 {r['p50_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms over {r['trials']} trials; "
          f"background {r['background_calls_per_s']:.0f} calls/s (target p99 <= 1000 ms: {target})")
    print(f"RESULT detection_latency trials={r['trials']} p50_ms={r['p50_ms']:.1f} p99_ms={r['p99_ms']:.1f} "
          f"max_ms={r['max_ms']:.1f} background_calls_per_s={r['background_calls_per_s']:.0f}")


if __name__ == "__main__":
    main()
