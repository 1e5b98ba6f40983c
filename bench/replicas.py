"""Replicas: a kill switch applied through replica A, enforced by the gateways of replicas B and C.

    .venv/bin/python bench/replicas.py [--flips 100] [--no-redis]

Starts three `fireline serve` processes (one worker each, as replicas behind a load balancer) on a
fresh PostgreSQL database (FIRELINE_TEST_PG admin URL) and Redis (FIRELINE_TEST_REDIS), with their
revision poll slowed to 30 s so only PostgreSQL NOTIFY can carry a change. Each flip applies or
reverts a kill switch on A; the sample is the time from A's answer until B's (and C's) next
gateway request answers accordingly (a request round trip included). Target: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.scale.replicas import api, flip_samples, p99, replicas  # noqa: E402

TARGET_P99_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=100)
    parser.add_argument("--no-redis", action="store_true", help="counters and windows through PostgreSQL")
    args = parser.parse_args()
    redis_url = None if args.no_redis else os.environ.get("FIRELINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory() as tmp, replicas(Path(tmp), redis_url) as procs:
        clients = [api(p) for p in procs]
        flip_samples(clients[0], clients[1:], flips=4)  # warm-up
        samples = flip_samples(clients[0], clients[1:], flips=args.flips)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    ms = sorted(s * 1e3 for s in samples)
    print(f"kill switch on A -> enforced by B and C ({len(ms)} samples, {args.flips} flips)")
    print(f"  p50 {statistics.median(ms):.1f} ms   p99 {p99(samples) * 1e3:.1f} ms   max {ms[-1]:.1f} ms"
          f"   target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if p99(samples) * 1e3 <= TARGET_P99_MS else 'NOT met'}")
    print(f"  load: {load}")


if __name__ == "__main__":
    main()
