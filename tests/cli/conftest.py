"""The CLI's tests: a real server on loopback that the CLI reaches through FIRELINE_URL, and whose
database the admin commands open directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline import config
from fireline import db as db_module
from fireline.db import Database
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fireline]:
    with running(sqlite_db) as server:
        monkeypatch.setenv("FIRELINE_URL", server.url)
        monkeypatch.setenv("FIRELINE_DATABASE_URL", sqlite_db.url)
        config.reset()
        db_module.set_db(sqlite_db)
        yield server
        db_module.set_db(None)
        config.reset()
