"""Retention and legal hold on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from fireline.calls import retention, service
from fireline.calls.models import Call, CallRaw, LegalHold
from fireline.calls.schemas import CallIn
from fireline.db import Database


def _ingest(db: Database, days_ago: int, n: int, prefix: str) -> list[str]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    calls = [CallIn(id=f"{prefix}-{i}", app="bot", user="carol", started_at=at,
                    output=f"reach me at carol{i}@example.com") for i in range(n)]
    return service.ingest(db, calls).ids


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_retention_purges_raw_then_records_but_keeps_held_calls(db: Database) -> None:
    _ingest(db, 1, 3, "new")
    _ingest(db, 40, 3, "month")
    old = _ingest(db, 500, 3, "ancient")
    with db.writing() as s:
        assert retention.place_hold(s, [old[0], "month-0"], holder="INC-1", actor="key_r") == 2
    with db.writing() as s:
        report = retention.run_retention(s, raw_days=30, record_days=400)
    assert (report.raw_purged, report.calls_purged, report.held_skipped) == (4, 2, 2)
    with db.session() as s:
        remaining = set(s.scalars(select(Call.id)))
        raw_left = set(s.scalars(select(CallRaw.call_id)))
    assert remaining == {"new-0", "new-1", "new-2", "month-0", "month-1", "month-2", "ancient-0"}
    assert raw_left == {"new-0", "new-1", "new-2", "month-0", "ancient-0"}


def test_erasure_reports_holds_and_release_lets_it_proceed(db: Database) -> None:
    ids = _ingest(db, 1, 4, "c")
    with db.writing() as s:
        retention.place_hold(s, ids[:2], holder="INC-9", actor="key_r")
    with db.writing() as s:
        report = retention.erase_subject(s, "carol", actor="key_a")
    assert (report.deleted_calls, report.held_calls, report.held_by) == (2, 2, ["INC-9"])
    assert report.deleted_raw == 2
    with db.writing() as s:
        assert retention.release_holds(s, holder="INC-9", actor="key_r") == 2
    with db.writing() as s:
        again = retention.erase_subject(s, "carol", actor="key_a")
    assert (again.deleted_calls, again.held_calls) == (2, 0)
    assert _count(db, Call) == 0 and _count(db, CallRaw) == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LegalHold).where(LegalHold.released_at.is_(None))) == 0
