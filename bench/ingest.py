"""Sustained ingest over HTTP: batches of 100 calls of ~2 KB with realistic PII density.

Each call's prompt and answer are its own (`--texts corpus`, the default: TruthfulQA and
presidio-research's synthetic sentences, bench/_texts.py); `--texts filler` repeats one paragraph,
as the figures before 2026-12-07 did.

Prints calls/s and p99 batch latency on SQLite and (if reachable) PostgreSQL.
Target: >= 10,000 calls/s on SQLite on this 2-core machine, PII pass and encryption included.
Anchor: Arize Phoenix stores about 40 spans/s on SQLite on this machine (shared/peers/README.md);
`--phoenix N` measures it in the same run, after Fireline, on N OTLP spans (bench/_phoenix.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _phoenix  # noqa: E402
from _server import ADMIN, cpu_seconds, fireline_server, hot_path, rss_mb  # noqa: E402
from _texts import corpus_texts  # noqa: E402

FILLER = ("Thanks for reaching out about your order. Our records show the parcel left the warehouse "
          "yesterday and should arrive within two business days. ")
PII = ["my email is jane.doe{n}@example.com", "call me at +1 415 555 {n:04d}",
       "card 4111 1111 1111 1111", "IBAN DE89 3704 0044 0532 0130 00", "from 10.0.{m}.{m}"]


TEXTS = "corpus"  # --texts: every call's texts its own (bench/_texts.py), or "filler" (one paragraph repeated)


def make_call(i: int, rng: random.Random) -> dict[str, object]:
    if TEXTS == "corpus":
        user_text, output = corpus_texts(rng)
    else:
        user_text = FILLER * 7
        if rng.random() < 0.3:  # about a third of calls carry personal data
            user_text += " " + rng.choice(PII).format(n=i % 10000, m=i % 250)
        output = FILLER * 4 + ("Your card ending 1111 is fine." if rng.random() < 0.1 else "")
    return {
        "id": f"{uuid.uuid4().hex}", "app": f"app-{i % 5}", "environment": "prod", "tenant": f"t-{i % 50}",
        "session_id": f"s-{i % 2000}", "user": f"user-{i % 5000}", "model": "gpt-4o-2024-08-06",
        "prompt_version": "v12", "system_prompt": "You are a helpful support agent for ACME.",
        "input": [{"role": "user", "content": user_text}],
        "output": output,
        "retrieval": [{"id": "kb-7", "source": "kb", "text": "Orders ship within two business days."}],
        "tool_calls": [{"name": "lookup_order", "arguments": {"order": i}, "kind": "read"}],
        "input_tokens": 420, "output_tokens": 180, "cost_usd": 0.0031, "latency_ms": 850,
    }


async def run(url: str, pid: int, total: int, batch: int, senders: int) -> dict[str, float]:
    rng = random.Random(7)
    bodies = [orjson.dumps({"calls": [make_call(b * batch + j, rng) for j in range(batch)]})
              for b in range(total // batch)]
    size = sum(len(b) for b in bodies) / total
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            async with session.post(url + "/api/v1/calls", data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"ingest answered {resp.status}")
            latencies.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession() as session:
        # warm-up batch, not timed
        async with session.post(url + "/api/v1/calls", data=bodies[0], headers=headers) as resp:
            await resp.read()
        latencies.clear()
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(senders)))
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
        async with session.get(url + "/api/v1/calls/count", headers=headers) as resp:
            stored = (await resp.json())["count"]
    latencies.sort()
    done = len(latencies) * batch
    return {"calls_per_s": done / elapsed, "p50_batch_ms": statistics.median(latencies) * 1000,
            "p99_batch_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "bytes_per_call": size,
            "stored": stored, "server_cpu_us_per_call": cpu / done * 1e6, "server_rss_mb": rss_mb(pid)}


async def open_loop(url: str, pid: int, rate: float, seconds: float, bodies: list[bytes] | None = None,
                    path: str = "/api/v1/calls", content_type: str = "application/json",
                    ok: int = 201) -> dict[str, float]:
    """One call per request, sent at `rate` requests/s whatever the answers' pace (open loop, as SDKs
    and exporters send): achieved rate and latency percentiles of the answers. `bodies`: what to
    send (default: `make_call`s, one per request, to the native API)."""
    if bodies is None:
        rng = random.Random(11)
        bodies = [orjson.dumps(make_call(i, rng)) for i in range(int(rate * seconds))]
    n = len(bodies)
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": content_type}
    latencies: list[float] = []
    failed = 0
    conn = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(body: bytes) -> None:
            nonlocal failed
            t0 = time.perf_counter()
            try:
                async with session.post(url + path, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != ok:
                        failed += 1
                        return
            except (TimeoutError, aiohttp.ClientError):
                failed += 1
                return
            latencies.append(time.perf_counter() - t0)

        async with session.post(url + path, data=bodies[0], headers=headers) as resp:
            await resp.read()  # warm-up
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies[1:], 1):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        sent = time.perf_counter() - start
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu0
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"sent_per_s": (n - 1) / sent, "answered_per_s": len(latencies) / elapsed, "failed": failed,
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "server_cpu_us_per_call": cpu / max(len(latencies), 1) * 1e6}


def db_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--workers", default="1",
                    help="server processes on PostgreSQL (serve --workers); a list (1,2) runs each in turn, "
                         "on a fresh database each, so their figures come from the same run")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="admin URL to create a scratch database ('' to skip)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="one call per request at this many requests/s (open loop) instead of batches")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long the --rate run sends")
    ap.add_argument("--texts", choices=("corpus", "filler"), default="corpus",
                    help="corpus: each call's texts composed from public corpora, no two alike; filler: one "
                         "paragraph repeated in every call (the figures before 2026-12-07; the privacy pass's "
                         "memo of recent texts serves nearly all of them)")
    ap.add_argument("--config", default="", help="FIRELINE_CONFIG for the server (e.g. ingest.prepare_process)")
    ap.add_argument("--phoenix", type=int, default=0, metavar="N",
                    help="measure Phoenix (OTLP, SQLite) in the same run on N spans (0: its recorded figure)")
    args = ap.parse_args()
    if args.config:
        os.environ["FIRELINE_BENCH_CONFIG"] = str(Path(args.config).resolve())
    global TEXTS
    TEXTS = args.texts
    if args.rate:
        single(args)
        return
    results: dict[str, dict[str, float]] = {}
    with fireline_server() as (url, pid):
        results["sqlite"] = asyncio.run(run(url, pid, args.calls, args.batch, args.senders))
    if args.pg:
        try:
            import psycopg

            for workers in worker_counts(args.workers):
                name = f"fireline_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(args.pg, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                try:
                    db_url = args.pg.rsplit("/", 1)[0] + "/" + name
                    with fireline_server(db_url, workers=workers) as (url, pid):
                        empty = db_bytes(db_url)
                        results[pg_engine(workers)] = r = asyncio.run(run(url, pid, args.calls, args.batch,
                                                                          args.senders))
                        # on disk: heap, TOAST and indexes of everything a call writes (docs/scaling.md)
                        r["disk_bytes_per_call"] = (db_bytes(db_url) - empty) / max(r["stored"], 1)
                finally:
                    with psycopg.connect(args.pg, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.OperationalError as exc:
            print(f"postgresql: skipped ({exc})")
    print(f"texts: {TEXTS}; hot path: {hot_path()}")
    for engine, r in results.items():
        print(f"{engine:10s} {r['calls_per_s']:9.0f} calls/s  p50 batch {r['p50_batch_ms']:6.1f} ms  "
              f"p99 batch {r['p99_batch_ms']:6.1f} ms  {r['bytes_per_call']:.0f} B/call  "
              f"server CPU {r['server_cpu_us_per_call']:.0f} us/call  RSS {r['server_rss_mb']:.0f} MB  "
              f"stored {r['stored']:.0f}"
              + (f"  {r['disk_bytes_per_call']:.0f} B/call on disk" if "disk_bytes_per_call" in r else ""))
    sq = results["sqlite"]["calls_per_s"]
    got, source, same_run = _phoenix.figures(args.phoenix)
    phoenix = got["e2e_spans_per_s"]
    if same_run:
        results["phoenix"] = {"spans_per_s": phoenix}
    print(f"vs Phoenix on SQLite ({phoenix:.0f} OTLP spans/s stored, {source}): {sq / phoenix:.0f}x; "
          f"target 10,000 calls/s: {'met' if sq >= 10_000 else 'not met'}")
    print("RESULT " + " ".join(f"{e}_{k}={v:.1f}" for e, r in results.items() for k, v in r.items()))


def worker_counts(spec: str | int) -> list[int]:
    """--workers: one count, or a comma-separated list of them."""
    return [int(w) for w in str(spec).split(",") if w.strip()]


def pg_engine(workers: int) -> str:
    return "postgresql" if workers == 1 else f"pg_w{workers}"


def on_both_engines(pg: str, workers: str | int,
                    run: Callable[[str, int], dict[str, float]]) -> dict[str, dict[str, float]]:
    """`run(url, pid)` against a server on a fresh SQLite file, then (unless `pg` is '') on a scratch
    PostgreSQL database for each worker count."""
    import psycopg

    out: dict[str, dict[str, float]] = {}
    with fireline_server() as (url, pid):
        out["sqlite"] = run(url, pid)
    for count in worker_counts(workers) if pg else []:
        name = f"fireline_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            with fireline_server(pg.rsplit("/", 1)[0] + "/" + name, workers=count) as (url, pid):
                out[pg_engine(count)] = run(url, pid)
        finally:
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out


def print_open_loop(out: dict[str, dict[str, float]], rate: float, what: str = "one call per request") -> None:
    import subprocess

    for engine, r in out.items():
        print(f"{engine:10s} {what} at {rate:.0f}/s: sent {r['sent_per_s']:.0f}/s, "
              f"answered {r['answered_per_s']:.0f}/s, failed {r['failed']:.0f}, p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms (target 20), server CPU {r['server_cpu_us_per_call']:.0f} us/call")
    print("load: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


def single(args: argparse.Namespace) -> None:
    """--rate: one call per request on SQLite and PostgreSQL; target 500 req/s at p99 <= 20 ms."""
    out = on_both_engines(args.pg, args.workers,
                          lambda url, pid: asyncio.run(open_loop(url, pid, args.rate, args.seconds)))
    print_open_loop(out, args.rate)


if __name__ == "__main__":
    main()
