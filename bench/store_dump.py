"""What `calls.service.store` writes, table by table, to compare two commits' writes byte for byte.

`capture` runs the real ingest path (create_app, as bench/stages.py: privacy pass, encryption,
detectors) on bench/ingest.py's calls and saves what each `store` call received: the rows, the
encrypted raw content and the findings (ids, times and ciphertexts are fixed from then on).
`dump` stores those batches on a fresh database (then half a batch again, which is skipped, and one
call alone, as the row-by-row retry stores it) and writes every table's rows, each value quoted
with its type (SQLite `quote`, PostgreSQL `quote_nullable` and `pg_typeof`), in a fixed order;
only the clock's columns (the migration's control revision, the outbox entry's times) are masked.

    PYTHONPATH=src .venv/bin/python bench/store_dump.py capture --batches 20 --out /tmp/batches.pkl
    PYTHONPATH=src .venv/bin/python bench/store_dump.py dump /tmp/batches.pkl --out /tmp/a.txt \\
        [--database-url postgresql://postgres@127.0.0.1:5432/scratch]   # a fresh, empty database
    (the same with the other commit's src, then cmp)
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest import make_call  # noqa: E402

# Columns the clock writes (not the store's input): masked in the dump.
VOLATILE = {"outbox": {"created_at", "next_attempt_at"}, "control_revision": {"updated_at"}}


def capture(batches: int, out: str) -> None:
    tmp = tempfile.mkdtemp(prefix="fireline-store-dump-")
    os.environ["FIRELINE_DATABASE_URL"] = f"sqlite:///{tmp}/fireline.db"
    os.environ.setdefault("FIRELINE_SECRET", "bench-secret")
    os.environ.pop("FIRELINE_CONFIG", None)
    from fastapi.testclient import TestClient

    from fireline.api import create_app
    from fireline.calls import service
    from fireline.calls.api import parse_calls

    got: list[list[Any]] = []
    store = service.store

    def capturing(db: Any, batch: list[Any]) -> Any:
        got.append([(copy.deepcopy(p.row), p.raw_blob, copy.deepcopy(p.findings)) for p in batch])
        return store(db, batch)

    service.store = capturing
    rng = random.Random(7)
    app = create_app(data_dir=Path(tmp))
    with TestClient(app):
        for b in range(batches):
            body = orjson.dumps({"calls": [make_call(b * 100 + j, rng) for j in range(100)]})
            service.ingest(app.state.db, parse_calls(orjson.loads(body)))
    with open(out, "wb") as f:
        pickle.dump(got, f)
    print(f"{out}: {len(got)} batches, {sum(map(len, got))} calls")


def dump(batches_file: str, url: str, out: str) -> None:
    os.environ.setdefault("FIRELINE_SECRET", "bench-secret")
    from sqlalchemy import inspect, text

    from fireline.calls import service
    from fireline.db import Database

    with open(batches_file, "rb") as f:
        captured = pickle.load(f)  # noqa: S301 (a file this script wrote)

    def prepared(batch: list[Any], suffix: str = "") -> list[Any]:
        return [service.PreparedCall(row={**row, "id": row["id"] + suffix}, raw={}, redacted={},
                                     redactor=None, raw_blob=blob, findings=[dict(x) for x in found])  # type: ignore[arg-type]
                for row, blob, found in batch]

    db = Database(url or f"sqlite:///{tempfile.mkdtemp(prefix='fireline-store-dump-')}/fireline.db")
    db.upgrade()
    stored = sum(len(service.store(db, prepared(b))) for b in captured)
    stored += len(service.store(db, prepared(captured[0][:50]) + prepared(captured[0][50:], "-again")))
    stored += len(service.store(db, prepared(captured[-1][:1], "-alone")))
    lines = [f"stored {stored}"]
    with db.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            columns = [c["name"] for c in inspect(conn).get_columns(table)]
            typed = 'quote("{0}")' if db.is_sqlite else """quote_nullable("{0}"::text) || '::' || pg_typeof("{0}")"""
            values = ["'<clock>'" if c in VOLATILE.get(table, ()) else typed.format(c) for c in columns]
            rows = conn.execute(text(f"""SELECT {" || '|' || ".join(values)} FROM "{table}" ORDER BY 1""")).scalars()
            lines.append(f"== {table}: {', '.join(columns)}")
            lines += rows
    db.dispose()
    Path(out).write_text("\n".join(lines) + "\n")
    print(f"{out}: {stored} calls stored, {len(lines)} lines")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--batches", type=int, default=20)
    cap.add_argument("--out", required=True)
    dmp = sub.add_parser("dump")
    dmp.add_argument("batches_file")
    dmp.add_argument("--database-url", default="")
    dmp.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.command == "capture":
        capture(args.batches, args.out)
    else:
        dump(args.batches_file, args.database_url, args.out)


if __name__ == "__main__":
    main()
