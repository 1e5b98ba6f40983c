#!/usr/bin/env python3
"""Native ingest while its commits are held up: the backlog bound (`ingest.max_wait_s`) against none.

For each arm, a `fireline serve` on a scratch PostgreSQL database takes one call per request at
--rate req/s (bench/_rate.py's open loop, --conns keep-alive connections, every call its own id)
for --seconds; from the 2nd second the bench holds a lock on the calls table for --hold seconds
(`LOCK TABLE calls IN SHARE ROW EXCLUSIVE MODE`: every insert waits, as behind a long
migration, a vacuum full or a stuck transaction). Prints, per answer status, how many and how
fast (from when each request was due), the requests still unanswered at the end, and whether
every call answered 201 is stored.

  .venv/bin/python bench/backlog.py [--rate 100] [--seconds 14] [--hold 8] [--pg URL]

Arms: the default bound (5 s) and `max_wait_s: 1000000` (no bound in practice, the behaviour
before calls.admission).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _rate  # noqa: E402
from _server import ADMIN, fireline_server  # noqa: E402


def body() -> bytes:
    return json.dumps({"id": "backlog-@SEQ@", "app": "backlog-bench", "model": "gpt-4o-mini",
                       "input": [{"role": "user", "content": "Where is my order @SEQ@? It was due on Monday."}],
                       "output": "It left the warehouse yesterday and arrives tomorrow."}).encode()


def hold(db_url: str, after: float, seconds: float, held: threading.Event) -> None:
    time.sleep(after)
    with psycopg.connect(db_url) as conn:
        conn.execute("LOCK TABLE calls IN SHARE ROW EXCLUSIVE MODE")
        held.set()
        time.sleep(seconds)
        conn.commit()


def arm(pg: str, config: str | None, args: argparse.Namespace) -> dict[str, Any]:
    name = f"fireline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = pg.rsplit("/", 1)[0] + "/" + name
    env = {}
    work = Path(tempfile.mkdtemp(prefix="fl-backlog-"))
    if config is not None:
        (work / "fireline.yaml").write_text(config)
        env["FIRELINE_CONFIG"] = str(work / "fireline.yaml")
    try:
        with fireline_server(db_url, env=env) as (url, _pid):
            _rate.run(url + "/api/v1/calls", 20, 1, body().replace(b"@SEQ@", b"warm-@SEQ@"), ADMIN)
            held = threading.Event()
            locker = threading.Thread(target=hold, args=(db_url, 2.0, args.hold, held))
            locker.start()
            r = _rate.run(url + "/api/v1/calls", args.rate, args.seconds, body(), ADMIN, conns=args.conns)
            locker.join()
            created = r["by_status"].get(201, {}).get("n", 0)
            deadline = time.monotonic() + 60
            stored = 0
            while time.monotonic() < deadline:
                with psycopg.connect(db_url) as conn:
                    row = conn.execute("SELECT count(*) FROM calls WHERE app = 'backlog-bench'").fetchone()
                    stored = int(row[0]) if row else 0
                if stored >= created:
                    break
                time.sleep(0.5)
            r["stored"], r["created"], r["held"] = stored, created, held.is_set()
            return r
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=14)
    ap.add_argument("--hold", type=float, default=8)
    ap.add_argument("--conns", type=int, default=2000, help="client connections (many SDK instances)")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    load = "/".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{args.rate:.0f} req/s for {args.seconds:g} s, calls table locked from 2 s for {args.hold:g} s; "
          f"load {load}")
    for label, config in (("bound 5 s (default)", None), ("no bound", "ingest:\n  max_wait_s: 1000000\n")):
        r = arm(args.pg, config, args)
        lost = r["failed"] - sum(s["n"] for c, s in r["by_status"].items() if c >= 400)
        print(f"  {label}: lock held {r['held']}, unanswered at the end {r['unanswered']}, no answer (connection "
              f"errors) {lost}, answered 201 {r['created']}, stored {r['stored']}")
        for code, s in r["by_status"].items():
            print(f"    {code}: {s['n']:5d} answers, p50 {s['p50_ms']:8.1f} ms, p99 {s['p99_ms']:8.1f} ms, "
                  f"max {s['max_ms']:8.1f} ms")
    print(f"load after {'/'.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
