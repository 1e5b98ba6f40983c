"""Engine, sessions and migrations: the SQLite/PostgreSQL differences live here only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    exc,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from fireline.config import get_settings
from fireline.errors import FirelineError
from fireline.events import EventBus
from fireline.validation import GUARD_LAYOUT, guard_statements, int_bounds

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


class _ColumnArray(TypeDecorator[list[Any]]):
    """ARRAY(item type), bound as `_Values` (after the item type's own processing)."""

    impl = postgresql.ARRAY
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        items = super().bind_processor(dialect)
        return lambda value: _Values(items(value) if items is not None else value)


class BulkInsert:
    """An INSERT of many rows of one table (optionally skipping rows whose key exists, and returning
    columns of the rows inserted) whose statement text does not grow with the rows. SQLite: the
    statement SQLAlchemy compiles for the rows' columns, sent as driver SQL with the rows as tuples
    (its bind processors applied, the statement guard told the parameters' names and bounds):
    executemany, or with RETURNING one multi-row VALUES per 1,000 rows, as insertmanyvalues
    sends; SQLAlchemy's per-row parameter building was most of the write's Python. PostgreSQL: one
    array per column, unnested (`INSERT ... SELECT * FROM unnest(:a, :b, ...)`): psycopg parses a
    multi-row VALUES statement in Python on every execution (thousands of placeholders, too long
    for its cache) and the server plans it anew; the unnest statement is parsed once and prepared.
    Same rows, same values. A batch whose column mixes Python types (an array has one) goes as
    multi-row VALUES.

    The columns are the first row's keys; a column absent from them gets its scalar default, as
    SQLAlchemy's INSERT gives it (or the database's)."""

    def __init__(self, table: Table, *, skip_existing: str | None = None, returning: tuple[str, ...] = ()) -> None:
        self.table, self.skip_existing, self.returning = table, skip_existing, returning
        self._statements: dict[tuple[str, tuple[str, ...] | None], Any] = {}
        self._plans: dict[tuple[str, ...], _DriverPlan | None] = {}

    def _statement(self, dialect: str, columns: tuple[str, ...] | None) -> Any:
        stmt = self._statements.get((dialect, columns))
        if stmt is not None:
            return stmt
        table = self.table
        if columns is not None:
            # Item types without a length: a cast to VARCHAR(n) would truncate where the column refuses.
            arrays = [bindparam(name, type_=_ColumnArray(
                String() if isinstance(table.c[name].type, String) else table.c[name].type)) for name in columns]
            rows = func.unnest(*arrays).table_valued(*columns).render_derived()
            stmt = postgresql.insert(table).from_select(list(columns), select(*rows.c))
        else:
            stmt = insert_for(dialect)(table)
        if self.skip_existing:
            stmt = stmt.on_conflict_do_nothing(index_elements=[self.skip_existing])
        if self.returning:
            stmt = stmt.returning(*(table.c[name] for name in self.returning))
        self._statements[(dialect, columns)] = stmt
        return stmt

    def execute(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Any]:
        """Insert the rows; the first `returning` column of the rows inserted (else [])."""
        dialect = conn.dialect.name
        if dialect == "sqlite":
            returned = self._driver_execute(conn, rows)
            if returned is not None:
                return returned
        arrays = self._arrays(rows) if dialect == "postgresql" else None
        if arrays is None:
            result = conn.execute(self._statement(dialect, None), rows)
        else:
            result = conn.execute(self._statement(dialect, tuple(arrays)), arrays)
        return list(result.scalars().all()) if self.returning else []

    def _plan(self, dialect: Dialect, columns: tuple[str, ...]) -> _DriverPlan | None:
        if columns in self._plans:
            return self._plans[columns]
        compiled: Any = self._statement(dialect.name, None).compile(dialect=dialect, column_keys=list(columns))
        names = tuple(compiled.positiontup or ())
        one_row = "(" + ", ".join("?" * len(names)) + ")"
        plan = None
        # Only what the plan reproduces exactly: qmark parameters, values from the rows or scalar defaults.
        if (dialect.paramstyle == "qmark" and set(names) & set(columns)
                and compiled.string.count(" VALUES " + one_row) == 1
                and all(n in columns or _scalar_default(self.table, n) for n in names)):
            processors = compiled._bind_processors
            present = [n for n in names if n in columns]
            limits = {n: b for n in names if (b := int_bounds(self.table.c[n].type)) is not None}
            plan = _DriverPlan(
                sql=compiled.string, one_row=one_row, width=len(names),
                get=itemgetter(*present) if len(present) > 1 else _one(present[0]),
                defaults=[(i, self.table.c[n].default.arg) for i, n in enumerate(names)  # type: ignore[union-attr]
                          if n not in columns],
                processors=[(i, _once_per_value(processors[n]) if isinstance(self.table.c[n].type, UTCDateTime)
                             else _plain(processors[n])) for i, n in enumerate(names) if n in processors],
                layout=(names, limits))
        self._plans[columns] = plan
        return plan

    def _driver_execute(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Any] | None:
        """SQLite: the rows as driver SQL; None when the plan cannot (SQLAlchemy's path then)."""
        plan = self._plan(conn.dialect, tuple(rows[0]))
        if plan is None:
            return None
        try:
            values: list[Any] = list(map(plan.get, rows))
        except KeyError:
            return None  # a row without a column of the first: SQLAlchemy's path says which
        if plan.defaults or plan.processors:
            columns: list[Any] = list(zip(*values, strict=True))
            for i, default in plan.defaults:
                columns.insert(i, (default,) * len(rows))
            for i, process in plan.processors:
                columns[i] = list(map(process(), columns[i]))
            values = list(zip(*columns, strict=True))
        options = {GUARD_LAYOUT: plan.layout}
        if not self.returning:
            conn.exec_driver_sql(plan.sql, values, execution_options=options)
            return []
        returned: list[Any] = []
        page = max(1, min(conn.dialect.insertmanyvalues_page_size,
                          conn.dialect.insertmanyvalues_max_parameters // plan.width))
        for start in range(0, len(values), page):
            chunk = values[start:start + page]
            sql = plan.sql.replace(" VALUES " + plan.one_row, " VALUES " + ", ".join([plan.one_row] * len(chunk)), 1)
            flat = tuple(chain.from_iterable(chunk))
            returned += conn.exec_driver_sql(sql, flat, execution_options=options).scalars().all()
        return returned

    def _arrays(self, rows: list[dict[str, Any]]) -> dict[str, list[Any]] | None:
        arrays = {name: [r[name] for r in rows] for name in rows[0]}
        for c in self.table.c:
            if c.name not in arrays and c.default is not None and c.default.is_scalar:
                arrays[c.name] = [c.default.arg] * len(rows)  # type: ignore[attr-defined]
        for values in arrays.values():
            if len({type(v) for v in values if v is not None}) > 1:
                return None
        return arrays


@dataclass(slots=True, frozen=True)
class _DriverPlan:
    """How BulkInsert sends rows of some columns to SQLite as driver SQL (positions are in `sql`'s order)."""

    sql: str  # the one-row INSERT as SQLAlchemy compiles it
    one_row: str  # its VALUES tuple, "(?, ?, ...)"
    width: int
    get: Callable[[dict[str, Any]], Any]  # a row's values of the columns the rows have, in statement order
    defaults: list[tuple[int, Any]]  # (position, scalar default) of the columns the rows lack
    processors: list[tuple[int, Callable[[], Callable[[Any], Any]]]]  # (position, the type's bind processor)
    layout: tuple[tuple[str, ...], dict[str, tuple[int, int]]]  # for the statement guard


def _once_per_value(process: Callable[[Any], Any]) -> Callable[[], Callable[[Any], Any]]:
    """A maker of `process` remembering its result per value for one execution: a batch's times
    repeat (its calls share the ingest time, findings carry their call's start) and SQLite's
    timestamp text costs an isoformat each."""

    def make() -> Callable[[Any], Any]:
        memo: dict[Any, Any] = {}

        def once(value: Any) -> Any:
            try:
                return memo[value]
            except KeyError:
                memo[value] = out = process(value)
                return out

        return once

    return make


def _plain(process: Callable[[Any], Any]) -> Callable[[], Callable[[Any], Any]]:
    return lambda: process


def _one(name: str) -> Callable[[dict[str, Any]], tuple[Any]]:
    return lambda row: (row[name],)


def _scalar_default(table: Table, name: str) -> bool:
    column = table.c.get(name)
    return column is not None and column.default is not None and bool(column.default.is_scalar)


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


def upgrade(engine: Engine, revision: str = "heads") -> None:
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
