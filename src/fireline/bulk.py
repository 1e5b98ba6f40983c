"""BulkInsert: one INSERT of a batch's rows per table, its statement text independent of the rows
(the write of ingest, fireline.calls.service.store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import String, Table, TypeDecorator, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect

from fireline.db import UTCDateTime, _Values, insert_for
from fireline.validation import GUARD_LAYOUT, int_bounds


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
        names = list(rows[0])
        get = itemgetter(*names) if len(names) > 1 else _one(names[0])
        arrays = dict(zip(names, map(list, zip(*map(get, rows), strict=True)), strict=True))
        for c in self.table.c:
            if c.name not in arrays and c.default is not None and c.default.is_scalar:
                arrays[c.name] = [c.default.arg] * len(rows)  # type: ignore[attr-defined]
        for values in arrays.values():
            kinds = set(map(type, values))
            kinds.discard(type(None))
            if len(kinds) > 1:
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
