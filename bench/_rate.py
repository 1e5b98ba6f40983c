"""Open-loop load at a fixed rate (what wrk cannot do): requests are sent on a schedule, whatever
the answers, over a pool of keep-alive connections, and each latency is measured from the moment
the request was due, so a stall shows in the tail instead of slowing the load (no coordinated
omission). Stdlib asyncio (uvloop when importable); run it pinned to the load generator's core.

  python bench/_rate.py URL --rate 500 --duration 10 --body FILE [--api-key K] [--json]

A body holding the marker `@SEQ@` gets the request's number there (8 digits), so no two requests
carry the same text (`bench/gateway_overhead.py --distinct`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from urllib.parse import urlparse

SEQ = b"@SEQ@"
KEEPALIVE_EXPIRY = 4.0  # s


async def _load(url: str, rate: float, duration: float, body: bytes, api_key: str,
                conns: int, by_status: dict[int, list[float]]) -> tuple[list[float], int, int, float]:
    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    before, seq, after = body.partition(SEQ)
    size = len(before) + len(after) + (8 if seq else 0)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n" + (f"Authorization: Bearer {api_key}\r\n" if api_key else "")
            + "\r\n").encode() + before
    numbered = 0
    # (reader, writer, when last used): a connection idle past KEEPALIVE_EXPIRY is replaced before use,
    # as httpx's pool does, since the server closes idle ones (uvicorn after 5 s).
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = asyncio.Queue()
    for _ in range(conns):
        idle.put_nowait((*await asyncio.open_connection(host, port), time.perf_counter()))
    latencies: list[float] = []
    errors = [0, 0]  # failed, not sent (every connection busy for longer than the run)

    async def one(due: float) -> None:
        nonlocal numbered
        numbered += 1
        request = head + (b"%08d" % numbered if seq else b"") + after
        reader, writer, used = await idle.get()
        if time.perf_counter() - used > KEEPALIVE_EXPIRY:
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header.split(b" ", 2)[1])
            low = header.lower()
            i = low.find(b"content-length:")
            await reader.readexactly(int(low[i + 15:low.find(b"\r\n", i)]) if i >= 0 else 0)
            latencies.append(time.perf_counter() - due)
            by_status.setdefault(status, []).append(latencies[-1])
            if status >= 400:
                errors[0] += 1
            idle.put_nowait((reader, writer, time.perf_counter()))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors[0] += 1
            writer.close()
            idle.put_nowait((*await asyncio.open_connection(host, port), time.perf_counter()))

    tasks = set()
    start = time.perf_counter()
    n = int(rate * duration)
    for k in range(n):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=30)
        errors[1] = len(late)
        for task in late:
            task.cancel()
    return latencies, errors[0], errors[1], time.perf_counter() - start


def run(url: str, rate: float, duration: float, body: bytes, api_key: str = "", conns: int = 64) -> dict:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    statuses: dict[int, list[float]] = {}
    lat, failed, unsent, elapsed = asyncio.run(_load(url, rate, duration, body, api_key, conns, statuses))
    lat.sort()

    def q(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")

    return {"rate": rate, "answered": len(lat), "answered_per_s": len(lat) / elapsed, "failed": failed,
            "unanswered": unsent, "p50_ms": q(lat, 0.50), "p90_ms": q(lat, 0.90), "p99_ms": q(lat, 0.99),
            "max_ms": q(lat, 1.0),
            "by_status": {code: {"n": len(v), "p50_ms": q(v, 0.5), "p99_ms": q(v, 0.99), "max_ms": q(v, 1.0)}
                          for code, v in sorted(statuses.items()) for v in [sorted(v)]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--body", required=True)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--cpu", type=int, default=-1, help="pin to this CPU")
    args = ap.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    with open(args.body, "rb") as f:
        body = f.read()
    print(json.dumps(run(args.url, args.rate, args.duration, body, args.api_key, args.conns)))


if __name__ == "__main__":
    main()
