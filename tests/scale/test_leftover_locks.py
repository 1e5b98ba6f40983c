"""The per-worker PostgreSQL test database frees locks an earlier test's server left behind."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from fireline import leader
from fireline.db import Database
from fireline.leader import LOCK_KEY, Leadership
from tests.conftest import LeftoverConnectionWarning, _release_leftover_locks


def test_a_leftover_advisory_lock_is_terminated_with_a_warning(pg_url: str) -> None:
    leftover = psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)
    leftover.execute("SELECT pg_advisory_lock(424242)")
    db = Database(pg_url)
    try:
        with pytest.warns(LeftoverConnectionWarning, match="terminated"):
            _release_leftover_locks(db, "this test")
        with db.engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(424242)")).scalar()
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
        assert got is True
        with pytest.raises(psycopg.OperationalError):
            leftover.execute("SELECT 1")
    finally:
        leftover.close()
        db.dispose()


def test_an_election_that_outlived_its_server_is_stopped(pg_url: str) -> None:
    db = Database(pg_url)
    election = Leadership(db.engine).start()
    try:
        assert election.wait(5) and election in leader.running()
        with pytest.warns(LeftoverConnectionWarning, match="outlived its server"):
            _release_leftover_locks(db, "this test")
        assert election not in leader.running() and not election.is_leader()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar() is True
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
    finally:
        election.stop()
        db.dispose()
