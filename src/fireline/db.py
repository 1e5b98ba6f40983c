"""Engine, sessions and migrations: the SQLite/PostgreSQL differences live here only."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    exc,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from fireline.config import get_settings
from fireline.errors import FirelineError
from fireline.events import EventBus
from fireline.validation import guard_statements

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite keeps naive text; comparisons stay correct because every value is UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # The text SQLAlchemy's SQLite DATETIME writes ('2026-11-22 10:00:00.000000'), in one step
        # instead of two processors and a format with a dict per value (ingest binds thousands):
        # isoformat in UTC, its "+00:00" cut (naive values are UTC already).
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not None and value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL, JSON text on SQLite.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        # hide_parameters: a failed statement's error (and so our logs) never carries call content.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash; only power loss can drop the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")
            # Fewer, larger checkpoints: ingest writes in bursts and the WAL absorbs them.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            # Deleted content (erasure, retention) is overwritten, not left in free pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        guard_statements(engine)
        return engine
    settings = get_settings()
    statement_ms = int(settings.db_statement_timeout_s * 1000)
    # A stopped or unreachable server must fail a request in seconds, not hang a thread: connect
    # timeout, TCP keepalives and a TCP user timeout (a dead peer on an open connection), and a
    # server-side statement timeout. Migrations lift the statement timeout (see `upgrade`).
    connect_args = {"connect_timeout": max(1, int(settings.db_connect_timeout_s)),
                    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                    "tcp_user_timeout": int(settings.db_connect_timeout_s * 1000) + statement_ms,
                    "options": f"-c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout="
                               f"{statement_ms * 2}"}
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True,
                           pool_timeout=settings.db_connect_timeout_s, connect_args=connect_args)
    # psycopg is imported here, not at the top: a server on SQLite never loads it (~0.1 s per start).
    import psycopg
    from psycopg.types.array import ListBinaryDumper

    @event.listens_for(engine, "connect")
    def _binary_arrays(dbapi_conn: Any, _record: Any) -> None:
        if isinstance(dbapi_conn, psycopg.Connection):  # BulkInsert's column arrays go binary
            dbapi_conn.adapters.register_dumper(_Values, ListBinaryDumper)

    guard_statements(engine)
    return engine


class DatabaseUnavailable(FirelineError):
    """The database cannot be reached or did not answer in time (503 with Retry-After)."""

    status = 503
    retry_after = 5


def is_unavailable(error: BaseException) -> bool:
    """True for failures of the database itself (down, unreachable, timed out, locked), as
    opposed to a statement it refused: the first is retried later, the second is the data's."""
    if isinstance(error, DatabaseUnavailable):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError
                      | exc.TimeoutError | TimeoutError | ConnectionError)


def insert_for(dialect_name: str) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


class _Values(list[Any]):
    """One column's values sent to PostgreSQL as one binary array (`BulkInsert`): binary needs no
    escaping of each item in Python, which the text form does (quotes in JSON content)."""


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        # Sessions know their Database, so code holding only a session finds the bus (bus_of).
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info={"database": self})
        # The app factory replaces this with the wired bus; unwired, publishing reaches no one.
        self.bus = EventBus()
        # SQLite allows one writer; serialising writers in-process avoids busy retries.
        self.write_lock = threading.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            event.listen(self.sessionmaker, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("wal_checkpoint", False):
            self.checkpoint()

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and truncate it (after an erasure, so the
        erased content does not linger in -wal). Nothing to do on PostgreSQL."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessionmaker() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        lock = self.write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.sessionmaker() as session, session.begin():
                yield session
        finally:
            if lock is not None:
                lock.release()

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def bus_of(session: Session) -> EventBus:
    """The event bus of the Database a session came from (an unwired bus for a foreign session)."""
    db = session.info.get("database")
    return db.bus if isinstance(db, Database) else EventBus()


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r'^revision = "([^"]+)"$', re.M)
_DOWN = re.compile(r'^down_revision = (None|"[^"]+"|\((?:"[^"]+",? ?)+\))$', re.M)
_PLAIN = re.compile(r"^(?:branch_labels|depends_on) = None$", re.M)


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str] | None:
    """The revisions no other one follows (what `upgrade heads` brings a database to), read from the
    version files' `revision = "..."` and `down_revision = ...` lines; None when a file is not in
    that plain form (no branch labels, no dependencies): alembic then decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text()
        rev, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(rev) != 1 or len(down) != 1 or len(_PLAIN.findall(text)) != 2:
            return None
        revisions.add(rev[0])
        downs.update(re.findall(r'"([^"]+)"', down[0]))
    return frozenset(revisions - downs) if revisions and downs <= revisions else None


def at_heads(engine: Engine) -> bool:
    """Whether the database's alembic_version holds exactly the heads of the version files: `upgrade`
    then has nothing to do, and a start skips loading alembic and every migration script (~0.1-0.2 s
    of CPU per start; a database being created or behind is migrated by alembic as before)."""
    heads = migration_heads()
    if heads is None:
        return False
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return set(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()) == heads


def upgrade(engine: Engine, revision: str = "heads") -> None:
    if revision == "heads" and at_heads(engine):
        return
    from alembic import command

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # a migration may take longer than a request may
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            # Workers and replicas starting together migrate one at a time (the others then find head).
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(1179405639)")  # "FLMG" (the leader holds "FIRE")
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


_db: Database | None = None
_db_lock = threading.Lock()


def get_db() -> Database:
    global _db
    with _db_lock:
        if _db is None:
            _db = Database(get_settings().database_url)
        return _db


def set_db(db: Database | None) -> None:
    global _db
    with _db_lock:
        _db = db
