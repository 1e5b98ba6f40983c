"""Leader election on PostgreSQL: one leader among the processes of a database, a successor when
it goes, and the once-only loops run only while leading; SQLite's one process always leads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from fireline.background import every
from fireline.db import Database
from fireline.leader import Leadership
from tests.conftest import _release_leftover_locks


def test_one_leader_and_a_successor(pg_url: str) -> None:
    db = Database(pg_url)
    _release_leftover_locks(db, "test_one_leader_and_a_successor")  # the worker's database is shared
    a = Leadership(db.engine, retry_s=0.1).start()
    b = Leadership(db.engine, retry_s=0.1).start()
    c = Leadership(db.engine, retry_s=0.1).start()
    try:
        assert a.is_leader()  # the first one leads from its start
        time.sleep(0.5)
        assert [a.is_leader(), b.is_leader(), c.is_leader()] == [True, False, False]
        assert [a.is_follower(), b.is_follower(), c.is_follower()] == [False, True, True]
        a.stop()
        assert not a.is_leader()
        deadline = time.monotonic() + 5
        while not (b.is_leader() or c.is_leader()):
            assert time.monotonic() < deadline, "no successor"
            time.sleep(0.05)
        time.sleep(0.5)
        assert b.is_leader() != c.is_leader()  # exactly one
    finally:
        for x in (a, b, c):
            x.stop()
        db.dispose()


def test_without_its_database_a_process_neither_leads_nor_follows() -> None:
    """So the monitors of a lone server still record what fires the moment the database is back."""
    from sqlalchemy import create_engine

    leader = Leadership(create_engine("postgresql+psycopg://postgres@127.0.0.1:1/x"), retry_s=0.1).start()
    try:
        time.sleep(0.3)
        assert not leader.is_leader() and not leader.is_follower()
    finally:
        leader.stop()


def test_sqlite_always_leads(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/f.db")
    leader = Leadership(db.engine).start()
    assert leader.is_leader() and leader.wait(0)
    leader.stop()
    assert leader.is_leader()


def test_a_loop_runs_only_while_its_condition_holds() -> None:
    ran: list[float] = []
    leading = [False]

    async def step() -> None:
        ran.append(time.monotonic())

    async def main() -> None:
        task = asyncio.create_task(every("t", step, 0.02, first_delay=0, only_if=lambda: leading[0]))
        await asyncio.sleep(0.2)
        assert ran == []
        leading[0] = True
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(main())
    assert len(ran) >= 3


def _free_to_lead(pg_url: str) -> bool:
    db = Database(pg_url)
    probe = Leadership(db.engine, retry_s=0.1).start()
    try:
        return probe.is_leader()
    finally:
        probe.stop()
        db.dispose()


def test_a_server_lets_go_of_the_lead_when_a_shutdown_step_fails_or_start_up_stops_half_way(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise the next process on the database only ever follows: no monitor alert, SLA clock or
    retention run anywhere."""
    from fireline import api as fl_api
    from fireline.gateway import api as gateway_api
    from tests.support.fireline import running

    db = Database(pg_url)
    _release_leftover_locks(db, "test_a_server_lets_go_of_the_lead")  # the worker's database is shared
    try:
        def broken_shutdown(app: Any) -> None:
            raise RuntimeError("a shutdown step failed")

        monkeypatch.setattr(gateway_api, "shutdown", broken_shutdown)
        with running(db) as fl:
            assert fl.app.state.leader.is_leader()
        assert _free_to_lead(pg_url)
        monkeypatch.undo()

        def broken_startup(app: Any) -> None:
            raise RuntimeError("a start-up step failed")

        parts = fl_api.parts()
        monkeypatch.setattr(parts[-1], "startup", broken_startup, raising=False)
        with pytest.raises(RuntimeError), running(db):
            pass
        assert _free_to_lead(pg_url)
    finally:
        db.dispose()
