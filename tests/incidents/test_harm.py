"""worst_harm: the most severe harm among an alert's calls, read by the calls' ids (O(alert))."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from fireline.db import Database
from fireline.incidents.harm import worst_harm
from tests.incidents.helpers import finding, store_calls


def test_the_worst_harm_of_the_named_calls_only(db: Database) -> None:
    ids = store_calls(db, [
        {"findings": [finding(kind="pii_egress"), finding(kind="pii_leak")]},
        {"findings": [finding(kind="pii_egress")]},
        {"findings": [finding(detector="tool_policy", kind="destructive_write")]},
        {"findings": [finding(detector="budget", kind="pii_egress")]},  # a harm's kind, not its detector
        {"findings": []},
        {"findings": [finding(detector="budget", kind="exceeded")]},
    ])
    with db.session() as session:
        harm = worst_harm(session, ids[:2])
        assert harm is not None and (harm.detector, harm.kind, harm.calls) == ("pii", "pii_egress", 2)
        assert worst_harm(session, [ids[3], ids[4]]) is None
        assert worst_harm(session, []) is None
        write = worst_harm(session, [ids[2], ids[4]])
        assert write is not None and (write.type, write.severity, write.calls) == ("agentic_harm", "P0", 1)
        spend = worst_harm(session, [ids[5]])
        assert spend is not None and (spend.type, spend.severity) == ("cost_runaway", "P1")
        worst = worst_harm(session, [ids[5], ids[1]])  # the most severe wins
        assert worst is not None and worst.type == "data_leakage"


def test_sqlite_reads_findings_by_call_id_not_every_harm_finding(sqlite_db: Database) -> None:
    """An OR over (detector, kind) pairs let SQLite walk ix_call_findings_signature: every harm
    finding ever stored, for each alert of a growing incident."""
    ids = store_calls(sqlite_db, [{"findings": [finding(kind="pii_egress")]} for _ in range(30)])
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "call_findings" in statement:
            seen.append((statement, parameters))

    event.listen(sqlite_db.engine, "before_cursor_execute", capture)
    try:
        with sqlite_db.session() as session:
            assert worst_harm(session, ids) is not None
    finally:
        event.remove(sqlite_db.engine, "before_cursor_execute", capture)
    (statement, parameters), = seen
    with sqlite_db.engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "ix_call_findings_call_id" in plan and "signature" not in plan
