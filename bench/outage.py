#!/usr/bin/env python3
"""Database outage under gateway traffic: the issue's figure (#12), full length.

Starts a private PostgreSQL cluster (initdb in a temporary directory, its own port; never the
shared server), `fireline serve` on it with the scriptable upstream, and sends open-loop gateway
traffic (each request on schedule, however slow the answers). After a warm-up the cluster is
stopped for --outage seconds (60 by default), then started again; the traffic continues after.
Prints the share of gateway requests answered 2xx during the outage, their latency, the native
ingest answers during the outage, and how many answered calls are missing from the log once
the spool has been replayed, beside the figures measured before the fix (issue #12).

  .venv/bin/python bench/outage.py [--outage 60] [--rate 200] [--warm 5] [--after 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.conftest import ingest_key, serve  # noqa: E402
from tests.reliability.load import Http, Outcome, client, gateway_call, native_batch, open_loop, wait_stored  # noqa: E402
from tests.reliability.pgcluster import PgCluster, pg_bin  # noqa: E402

from fireline.db import Database  # noqa: E402
from fireline.simulator.upstream import UpstreamServer  # noqa: E402

# Issue #12, measured before the fix: PostgreSQL stopped 30 s under gateway traffic.
BEFORE = "before the fix (30 s outage): 4,492 HTTP 500s and zero successes; 76 of 8,895 answered calls lost"


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--warm", type=float, default=5.0)
    ap.add_argument("--after", type=float, default=10.0)
    args = ap.parse_args()
    bin_dir = pg_bin()
    if bin_dir is None:
        print("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)", file=sys.stderr)
        return 2
    cluster = PgCluster(bin_dir).init()
    cluster.start()
    upstream = UpstreamServer(record=False).start()
    work = Path(tempfile.mkdtemp(prefix="fl-outage-"))
    try:
        url = cluster.create_database("outage")
        Database(url).upgrade()
        with serve(url, work / "data", upstream) as server:
            key = ingest_key(server)
            native: list[Outcome] = []

            async def scenario() -> tuple[list[Outcome], float, float]:
                async def gw(http: Http, i: int) -> Outcome:
                    return await gateway_call(http, i, key)

                traffic = asyncio.create_task(open_loop(server.url, args.rate, args.warm + args.outage + args.after,
                                                        gw))
                await asyncio.sleep(args.warm)
                await asyncio.to_thread(cluster.stop, "fast")
                down = time.monotonic()
                async with client(server.url) as session:
                    for i in range(5):
                        await asyncio.sleep(args.outage / 6)
                        native.append(await native_batch(Http(server.url, session), i, key, prefix="bench-outage"))
                await asyncio.sleep(max(0.0, down + args.outage - time.monotonic()))
                await asyncio.to_thread(cluster.start)
                return await traffic, down, time.monotonic()

            outcomes, down, up = asyncio.run(scenario())
            drain_start = time.monotonic()
            answered = [i for o in outcomes if o.answered_2xx for i in o.ids]
            found = wait_stored(Database(url), answered, timeout=300)
            drained_s = time.monotonic() - drain_start
        during = [o for o in outcomes if down <= o.started < up]
        ok = [o for o in during if o.answered_2xx]
        lat = [(o.ended - o.started) * 1000 for o in during]
        missing = len(set(answered) - found)
        share = len(ok) / len(during) if during else 0.0
        print(f"outage {up - down:.1f} s at {args.rate:.0f} req/s of gateway traffic "
              f"(PostgreSQL {bin_dir.parent.name}):")
        print(f"  during the outage: {len(ok)}/{len(during)} answered 2xx ({share:.4%}); latency p50 "
              f"{statistics.median(lat):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms")
        print(f"  native ingest during the outage: {[(o.status, o.detail) for o in native]}")
        print(f"  after recovery: {missing} of {len(answered)} answered calls missing from the log "
              f"(spool replayed within {drained_s:.1f} s of the end of traffic)")
        print(f"  {BEFORE}")
        print(f"RESULT outage_s={up - down:.1f} rate={args.rate:.0f} during={len(during)} ok_2xx={len(ok)} "
              f"share_2xx={share:.5f} p99_ms={pct(lat, 0.99):.1f} max_ms={max(lat):.1f} answered={len(answered)} "
              f"missing={missing} native_503={sum(o.status == 503 for o in native)}/{len(native)} "
              f"target_share_ge_0.999={int(share >= 0.999)} target_missing_0={int(missing == 0)}")
        return 0 if share >= 0.999 and missing == 0 else 1
    finally:
        upstream.stop()
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)  # the server's data directory (spool, log)


if __name__ == "__main__":
    sys.exit(main())
