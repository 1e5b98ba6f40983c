"""Session limits across workers without Redis: what counting one ingest batch in PostgreSQL costs.

Every call with a session is counted against its session's limits (steps, tokens: two keys per
call by default) in the deployment's one `WindowCounter`; on PostgreSQL without Redis that is
`counters.PostgresCounter`, one `add_many` per batch. Batches of 100 calls over 2,000 sessions
(bench/ingest.py's `session_id` spread), each batch a new window position, on a scratch database.

Prints the median wall time and this process's CPU per batch and per call, and whether any batch
fell back to the process's own counts (a timeout or a deadlock would).

    .venv/bin/python bench/session_counts.py [--batches 40] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from fireline.counters import PostgresCounter
from fireline.db import Database


def measure(url: str, batches: int) -> dict[str, float]:
    db = Database(url)
    db.upgrade()
    counter = PostgresCounter(db.engine, timeout_s=5.0)
    now = 1.75e9
    walls, cpus = [], []
    for b in range(batches):
        items = [(f"session|bench|s-{(b * 37 + i) % 2000}|{kind}", 1.0) for i in range(100)
                 for kind in ("steps", "tokens")]
        t0, c0 = time.perf_counter(), time.process_time()
        counter.add_many(items, 3600.0, now + b)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    fell_back = sum(counter.local.total(f"session|bench|s-{i}|steps", 3600.0, now + batches) for i in range(2000))
    db.dispose()
    return {"wall_ms_per_batch": statistics.median(walls) * 1e3, "cpu_us_per_call": statistics.median(cpus) * 1e4,
            "fell_back": fell_back}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="admin URL to create a scratch database")
    args = ap.parse_args()
    import psycopg

    name = f"fireline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        r = measure("postgresql+psycopg://" + args.pg.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name, args.batches)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"postgresql session counts, batches of 100 calls (200 keys): {r['wall_ms_per_batch']:.1f} ms per batch, "
          f"{r['cpu_us_per_call']:.0f} us of CPU per call here; counted in this process instead: {r['fell_back']:.0f}")
    print("RESULT " + " ".join(f"{k}={v:.1f}" for k, v in r.items()))


if __name__ == "__main__":
    main()
