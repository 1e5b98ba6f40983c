"""The batched write of calls (fireline.bulk.BulkInsert: column arrays on PostgreSQL, driver SQL on
SQLite) stores exactly what a plain INSERT stores, skips ids already stored, and its values pass the
same guard; timestamps are written on SQLite as SQLAlchemy writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import DateTime, insert, select
from sqlalchemy.dialects import sqlite

from fireline.bulk import BulkInsert
from fireline.calls.models import Call, CallFinding, CallRaw
from fireline.db import Database, UTCDateTime
from fireline.validation import Unstorable

CALLS = Call.__table__
ODD_TEXT = ['plain', '', 'quote " and \\ backslash', "{braces,comma}", "NULL", "naïve 日本語 🔥", "x" * 5000,
            '{"json": ["in", "text"], "n": 1.5}', "tab\tnew\nline"]


def call_row(i: int, call_id: str) -> dict[str, Any]:
    text = ODD_TEXT[i % len(ODD_TEXT)]
    return {
        "id": call_id, "started_at": datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC) + timedelta(seconds=i),
        "ingested_at": datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC), "app": text[:200] or "app",
        "environment": None if i % 2 else "prod", "tenant": text[:200], "session_id": f"s-{i}",
        "user_pseudonym": None, "model": "gpt-4o", "model_resolved": "gpt-4o", "provider": None,
        "prompt_version": "v1", "system_prompt_sha256": "ab" * 32, "status": "ok",
        "input_tokens": [0, 2**31 - 1, -(2**31), None][i % 4], "output_tokens": i,
        "cost_usd": [0.1 + 0.2, 1e-300, None, 12345.678901234567][i % 4], "latency_ms": 850.0,
        "trace_id": None, "span_id": None, "tools": None, "api_key_id": None, "output_language": "en",
        "output_script": None, "input_language": None, "input_topic": i % 3 or None, "content": text,
        "finding_count": i % 5, "has_raw": bool(i % 2), "legal_hold": False,
    }


def rows_of(db: Database, table: Any, key: str, ids: list[str]) -> list[dict[str, Any]]:
    with db.session() as s:
        got = s.execute(select(table).where(table.c[key].in_(ids))).mappings().all()
    return sorted(({k: v for k, v in r.items() if k not in ("id", key)} for r in got), key=repr)


def test_bulk_insert_stores_what_a_plain_insert_stores(db: Database) -> None:
    bulk = BulkInsert(CALLS, skip_existing="id", returning=("id",))  # type: ignore[arg-type]
    plain = [call_row(i, f"plain-{i}") for i in range(40)]
    batched = [call_row(i, f"bulk-{i}") for i in range(40)]
    blobs = [bytes([i, 0, 255, 39, 92]) * (i + 1) for i in range(40)]
    findings = [{"detector": "pii", "kind": "email", "entity": None if i % 2 else "EMAIL", "severity": "P2",
                 "confidence": 0.75, "location": "input", "item": i % 2 or None, "start": i, "end": i + 9,
                 "evidence": ODD_TEXT[i % len(ODD_TEXT)], "started_at": plain[i]["started_at"], "app": "a",
                 "tenant": None} for i in range(40)]
    with db.writing() as session:
        conn = session.connection()
        conn.execute(insert(CALLS), plain)
        conn.execute(insert(CallRaw.__table__), [{"call_id": f"plain-{i}", "blob": b} for i, b in enumerate(blobs)])
        conn.execute(insert(CallFinding.__table__), [{**f, "call_id": f"plain-{i}"} for i, f in enumerate(findings)])
        new = bulk.execute(conn, batched)
        BulkInsert(CallRaw.__table__).execute(  # type: ignore[arg-type]
            conn, [{"call_id": f"bulk-{i}", "blob": b} for i, b in enumerate(blobs)])
        BulkInsert(CallFinding.__table__).execute(  # type: ignore[arg-type]
            conn, [{**f, "call_id": f"bulk-{i}"} for i, f in enumerate(findings)])
    assert sorted(new) == sorted(r["id"] for r in batched)
    for table, key in ((CALLS, "id"), (CallRaw.__table__, "call_id"), (CallFinding.__table__, "call_id")):
        mine = rows_of(db, table, key, [f"bulk-{i}" for i in range(40)])
        theirs = rows_of(db, table, key, [f"plain-{i}" for i in range(40)])
        assert mine == theirs and len(mine) == 40


def test_ids_already_stored_are_skipped_and_not_returned(db: Database) -> None:
    bulk = BulkInsert(CALLS, skip_existing="id", returning=("id",))  # type: ignore[arg-type]
    with db.writing() as session:
        first = bulk.execute(session.connection(), [call_row(i, f"c-{i}") for i in range(3)])
    with db.writing() as session:
        again = bulk.execute(session.connection(), [call_row(i, f"c-{i}") for i in range(5)])
    assert sorted(first) == ["c-0", "c-1", "c-2"] and sorted(again) == ["c-3", "c-4"]


def test_a_column_of_mixed_python_types_is_still_stored(db: Database) -> None:
    rows = [call_row(i, f"m-{i}") for i in range(4)]
    rows[1]["cost_usd"] = 2  # an int among floats: no single array type, so plain VALUES
    with db.writing() as session:
        BulkInsert(CALLS).execute(session.connection(), rows)  # type: ignore[arg-type]
    with db.session() as s:
        assert s.scalar(select(Call.cost_usd).where(Call.id == "m-1")) == 2.0


@pytest.mark.parametrize(("column", "value", "why"), [
    ("tenant", "acme\x00", "NUL"), ("content", "x\ud800y", "surrogate"),
    ("input_tokens", 2**31, "integer range"), ("finding_count", -(2**31) - 1, "integer range"),
])
def test_a_value_the_engine_refuses_is_named_by_its_column(db: Database, column: str, value: Any, why: str) -> None:
    rows = [call_row(i, f"g-{i}") for i in range(5)]
    rows[3][column] = value
    with pytest.raises(Unstorable) as caught, db.writing() as session:
        BulkInsert(CALLS).execute(session.connection(), rows)  # type: ignore[arg-type]
    assert caught.value.details["field"] == column and why in str(caught.value)


@pytest.mark.parametrize("value", [
    datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC), datetime(2026, 11, 22, 10, 0),
    datetime(2026, 3, 29, 1, 30, 5, 7, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
    datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999), None,
])
def test_timestamps_are_stored_on_sqlite_as_sqlalchemy_writes_them(value: datetime | None) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    naive = None if value is None else UTCDateTime().process_bind_param(value, dialect)
    assert ours(value) == DateTime().dialect_impl(dialect).bind_processor(dialect)(naive)


def test_rows_lacking_columns_get_their_defaults_and_times_repeat_as_they_were(db: Database) -> None:
    """Columns the rows lack take their scalar defaults; a time shared by rows (or equal in another
    zone) is written as each row's own would be."""
    same = datetime(2026, 11, 22, 10, 0, 0, 5, tzinfo=UTC)
    zones = [same, same.astimezone(timezone(timedelta(hours=5, minutes=30))), same.replace(tzinfo=None), same]
    lacking = ("status", "finding_count", "has_raw", "legal_hold")
    plain = [{k: v for k, v in call_row(i, f"dp-{i}").items() if k not in lacking} | {"started_at": zones[i % 4]}
             for i in range(12)]
    batched = [{**r, "id": f"db-{i}"} for i, r in enumerate(plain)]
    findings = [{"detector": "pii", "kind": "k", "severity": "P3", "location": "input", "started_at": zones[i % 4],
                 "app": "a", "tenant": None, "entity": None, "item": None, "start": 1, "end": 2} for i in range(12)]
    with db.writing() as session:
        conn = session.connection()
        conn.execute(insert(CALLS), plain)
        conn.execute(insert(CallFinding.__table__), [{**f, "call_id": f"dp-{i}"} for i, f in enumerate(findings)])
        assert sorted(BulkInsert(CALLS, skip_existing="id", returning=("id",)).execute(  # type: ignore[arg-type]
            conn, batched)) == sorted(r["id"] for r in batched)
        BulkInsert(CallFinding.__table__).execute(  # type: ignore[arg-type]
            conn, [{**f, "call_id": f"db-{i}"} for i, f in enumerate(findings)])
    for table, key in ((CALLS, "id"), (CallFinding.__table__, "call_id")):
        mine = rows_of(db, table, key, [f"db-{i}" for i in range(12)])
        assert mine == rows_of(db, table, key, [f"dp-{i}" for i in range(12)]) and len(mine) == 12


def test_a_row_without_a_column_of_the_first_is_refused_as_sqlalchemy_refuses_it(db: Database) -> None:
    rows = [call_row(i, f"k-{i}") for i in range(3)]
    del rows[2]["tenant"]
    with pytest.raises(Exception) as caught, db.writing() as session:
        BulkInsert(CALLS).execute(session.connection(), rows)  # type: ignore[arg-type]
    assert "tenant" in str(caught.value)


def test_more_rows_than_one_statement_holds_are_all_returned(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk = BulkInsert(CALLS, skip_existing="id", returning=("id",))  # type: ignore[arg-type]
    monkeypatch.setattr(db.engine.dialect, "insertmanyvalues_page_size", 7)
    with db.writing() as session:
        bulk.execute(session.connection(), [call_row(i, f"p-{i}") for i in range(0, 30, 3)])
    with db.writing() as session:
        new = bulk.execute(session.connection(), [call_row(i, f"p-{i}") for i in range(30)])
    assert sorted(new) == sorted(f"p-{i}" for i in range(30) if i % 3)
