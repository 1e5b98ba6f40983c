"""`upgrade` skips alembic on a database already at the heads of the version files; the heads read
from the files are alembic's own."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from fireline.db import MIGRATIONS, Database, at_heads, migration_heads, upgrade


def test_the_heads_read_from_the_version_files_are_alembics() -> None:
    heads = migration_heads()
    assert heads is not None and heads == set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def test_a_database_is_at_heads_only_after_every_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        assert not at_heads(db.engine)  # no alembic_version table yet
        upgrade(db.engine)
        assert at_heads(db.engine)
        upgrade(db.engine)  # nothing to do: alembic is not asked
        with db.engine.begin() as conn:  # a branch not at its head: alembic decides
            conn.exec_driver_sql("DELETE FROM alembic_version WHERE version_num = ?", (min(migration_heads() or ()),))
        assert not at_heads(db.engine)
    finally:
        db.dispose()
