"""The database write of ingest alone: CPU per call and statements per batch of `calls.service.store`
(calls, raw content, findings, the "calls.ingested" outbox entry) plus the "alert.fired" outbox
entries a batch fires, on SQLite and (if reachable) PostgreSQL. Batches of 100 bench calls
(bench/ingest.py's `make_call`), prepared once (privacy pass and encryption are not measured),
with about 1.3 findings per call and 8 alerts per batch, as bench/ingest.py's run writes.

Prints the median and best process CPU per call over the rounds (this process: SQLAlchemy, the
driver, SQLite itself; not the PostgreSQL server) and the statements each batch sent.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))
from fireline import outbox  # noqa: E402
from fireline.calls import service  # noqa: E402
from fireline.calls.schemas import CallIn  # noqa: E402
from fireline.db import Database, utcnow  # noqa: E402
from ingest import make_call  # noqa: E402

ALERTS = 8  # "alert.fired" entries per batch (rule and monitor alerts of bench/ingest.py's calls)


def measure(url: str, rounds: int) -> dict[str, float]:
    db = Database(url)
    db.upgrade()
    rng = random.Random(7)
    batch = service.prepare_batch([CallIn.model_validate(make_call(i, rng)) for i in range(100)], utcnow())
    for i, p in enumerate(batch.calls):
        for k in range(1 + (i % 3 == 0)):
            p.findings.append({"detector": "pii", "kind": "email", "entity": "EMAIL", "severity": "P2",
                               "confidence": 0.9, "location": "input", "item": 0, "start": 10 + k, "end": 30,
                               "evidence": "[EMAIL] in input"})
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    cpu = []
    try:
        for r in range(rounds):
            for p in batch.calls:
                p.row["id"] = uuid.uuid4().hex
            statements = 0
            t0 = time.process_time()
            assert len(service.store(db, batch.calls)) == len(batch.calls)
            with db.writing() as session:
                outbox.add_many(session, "alert.fired", [{"alert": {"dedup_key": f"k{r}-{k}",
                                                                   "call_ids": [p.id for p in batch.calls[:20]]}}
                                                         for k in range(ALERTS)])
            cpu.append(time.process_time() - t0)
    finally:
        db.dispose()
    cpu.sort()
    n = len(batch.calls)
    return {"median_us_per_call": cpu[len(cpu) // 2] / n * 1e6, "best_us_per_call": cpu[0] / n * 1e6,
            "statements_per_batch": float(statements)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="admin URL to create a scratch database ('' to skip)")
    args = ap.parse_args()
    results = {"sqlite": measure(f"sqlite:///{tempfile.mkdtemp(prefix='fireline-bench-')}/fireline.db", args.rounds)}
    if args.pg:
        import psycopg

        name = f"fireline_bench_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(args.pg, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            print(f"postgresql: skipped ({exc})")
        else:
            try:
                results["postgresql"] = measure(args.pg.rsplit("/", 1)[0] + "/" + name, args.rounds)
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for engine, r in results.items():
        print(f"{engine:10s} write of a batch of 100: {r['median_us_per_call']:.0f} us/call CPU (best "
              f"{r['best_us_per_call']:.0f}), {r['statements_per_batch']:.0f} statements")
    print("RESULT " + " ".join(f"{e}_{k}={v:.1f}" for e, r in results.items() for k, v in r.items()))


if __name__ == "__main__":
    main()
