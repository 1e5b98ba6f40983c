"""Faults injected into the real database: a table that refuses writes, as a full disk, a lost
permission or a broken replica would, on both engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from fireline.db import Database


@contextmanager
def refusing_inserts(db: Database, table: str) -> Iterator[Callable[[], None]]:
    """Inserts into `table` fail until the block ends or the yielded function is called."""
    name = f"fl_refuse_{table}"
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                              "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
        else:
            conn.execute(text(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                              f"EXECUTE FUNCTION {name}()"))
    lifted = False

    def lift() -> None:
        nonlocal lifted
        if lifted:
            return
        lifted = True
        with db.engine.begin() as conn:
            if db.is_sqlite:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            else:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
                conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))

    try:
        yield lift
    finally:
        lift()
