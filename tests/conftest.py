"""Fixtures: one `db` fixture gives SQLite and PostgreSQL; servers run for real on loopback.

Each test run creates its own PostgreSQL database and drops it at the end. Without a
reachable server the PostgreSQL half is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis on a shared 2-core CI machine: a slow draw or example is the machine's load, not a
# finding (each property keeps its own example count; no test relies on a time limit).
settings.register_profile("fireline", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fireline")

# pytest-xdist's workers inherit COLUMNS=80 / LINES=24 from execnet: the CLI's Rich consoles would
# fix their width at import. Tests choose the width per command (tests/support/cli.py).
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
os.environ.setdefault("FIRELINE_SECRET", "test-secret-not-for-production")
os.environ.pop("FIRELINE_CONFIG", None)
os.environ.pop("FIRELINE_ADMIN_TOKEN", None)

from sqlalchemy import text  # noqa: E402

from fireline import config as fl_config  # noqa: E402
from fireline import leader  # noqa: E402
from fireline.calls import privacy  # noqa: E402
from fireline.db import Database, upgrade  # noqa: E402
from tests.support.forkcli import ForkCli  # noqa: E402

PG_ADMIN_URL = os.environ.get("FIRELINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ADMIN_TOKEN = "fl-test-admin-token"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    import psycopg

    name = f"fireline_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "fireline.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    with db.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    db.dispose()
    return path


class LeftoverConnectionWarning(UserWarning):
    """An earlier test left a connection holding an advisory lock (the leader lock) on the worker's database."""


_last_pg_test = "(none)"


def _release_leftover_locks(db: Database, test: str) -> None:
    """Free the advisory locks an earlier test's server left behind on this worker's database.

    The PostgreSQL database is shared by every test of an xdist worker, and the leader lock is an
    advisory lock on it: a connection that outlived its test (a server that did not stop) would
    leave every later test's server a follower, with no monitor alerts or clocks. Such a
    connection gets a second to go, then is terminated, with a warning naming the test
    that ran before.
    """
    global _last_pg_test
    for election in leader.running():  # in this process: an app on this database that outlived its test
        if not election.on(db.engine.url.database):
            continue
        election.stop()
        warnings.warn(LeftoverConnectionWarning(
            f"a leader election outlived its server (the last PostgreSQL test before {test} was "
            f"{_last_pg_test}); stopped"), stacklevel=1)
    held = text("SELECT DISTINCT l.pid, l.objid, a.application_name FROM pg_locks l "
                "JOIN pg_database d ON d.oid = l.database JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
                "AND l.pid <> pg_backend_pid()")
    deadline = time.monotonic() + 1.0
    with db.engine.connect() as conn:
        rows = list(conn.execute(held))
        while rows and time.monotonic() < deadline:
            time.sleep(0.1)
            rows = list(conn.execute(held))
        if rows:
            for pid, _, _ in rows:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
            gone = time.monotonic() + 5.0  # pg_terminate_backend only signals: wait for the locks to go
            while list(conn.execute(held)) and time.monotonic() < gone:
                time.sleep(0.05)
            conn.commit()
            locks = ", ".join(f"{objid:#x} ({name or 'no application name'})" for _, objid, name in rows)
            warnings.warn(LeftoverConnectionWarning(
                f"advisory locks {locks} were left by an earlier test (the last PostgreSQL test before "
                f"{test} was {_last_pg_test}); terminated"), stacklevel=1)
    _last_pg_test = test


_EMPTYING: dict[str, str] = {}


def _empty_all(db: Database) -> None:
    """Every table emptied and every table's id sequence restarted, as a TRUNCATE ... RESTART
    IDENTITY would, in one statement. DELETE, not TRUNCATE: TRUNCATE gives each of the ~40
    tables and their indexes new files, 0.24-0.28 s per test on the 2-core machine at load 4 and
    1.0-1.2 s at load 10 (this DELETE of the few rows a test leaves: ~0.02 s). Referencing tables
    are emptied before the tables they reference."""
    url = str(db.engine.url)
    if url not in _EMPTYING:
        with db.engine.connect() as conn:
            left = {r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))}
            refs = set(conn.execute(text(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid <> confrelid")).tuples())
            tables: list[str] = []
            while left:  # a table goes once no table left references it (a cycle: the rest as they come)
                ready = sorted(t for t in left if not any(parent == t and child in left for child, parent in refs))
                tables += ready or sorted(left)
                left -= set(ready or left)
            sequences = [r[0] for r in conn.execute(text(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE s.relkind = 'S' AND n.nspname = 'public' AND t.relname <> 'alembic_version'"))]
        _EMPTYING[url] = ("DO $$ BEGIN " + "".join(f'DELETE FROM "{t}"; ' for t in tables)
                          + "".join(f'ALTER SEQUENCE "{s}" RESTART; ' for s in sequences) + "END $$")
    with db.engine.begin() as conn:
        conn.execute(text(_EMPTYING[url]))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    fl_config.reset()
    privacy.reset_keys()
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "fireline.db"
        shutil.copy(template, path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("pg_url"))
        _release_leftover_locks(database, request.node.nodeid)
        _empty_all(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "fireline.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def fork_cli() -> Iterator[ForkCli]:
    """`fireline ARGS` run as its own process, forked from one that imported the CLI once."""
    helper = ForkCli()
    try:
        yield helper
    finally:
        helper.close()
