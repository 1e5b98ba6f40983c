"""Keys a server checked before are known to a server restarted while the database is away
(`keys.snapshot` in the data directory: digests, ids and roles, never a key); a revoked key
leaves it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from fireline.auth import service as keys
from fireline.auth.service import Principal
from fireline.db import Database, DatabaseUnavailable


def away() -> None:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_a_restarted_server_accepts_the_keys_it_knew_while_the_database_is_away(db: Database,
                                                                                 tmp_path: Path) -> None:
    keys.forget_cache()
    keys.configure(tmp_path)
    try:
        with db.writing() as s:
            app_row, app_key = keys.create_key(s, "ingest")
            old_row, old_key = keys.create_key(s, "viewer")
            _, never_used = keys.create_key(s, "ingest")
        assert keys.authenticate(db.sessionmaker, app_key) == Principal(app_row.id, "ingest")
        assert keys.authenticate(db.sessionmaker, old_key) == Principal(old_row.id, "viewer")
        snapshot = (tmp_path / "keys.snapshot").read_text()
        assert app_key not in snapshot and keys.hash_key(app_key) in snapshot and app_row.id in snapshot
        with db.writing() as s:
            keys.revoke_key(s, old_row.id)
        keys.poll_revocations(db.sessionmaker)  # the revocation poll takes it out of the snapshot
        assert keys.hash_key(old_key) not in (tmp_path / "keys.snapshot").read_text()

        keys.forget_cache()  # a new process, started while the database is away
        keys.configure(tmp_path)
        assert keys.authenticate(away, app_key) == Principal(app_row.id, "ingest")
        for unknown in (old_key, never_used):  # revoked, or never checked here: cannot be answered
            with pytest.raises(DatabaseUnavailable):
                keys.authenticate(away, unknown)
        assert keys.authenticate(db.sessionmaker, never_used) is not None  # the database decides when it is back
    finally:
        keys.forget_cache()
