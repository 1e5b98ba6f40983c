"""Erasure that finishes: a request blocked by legal hold is queued and carried out when the hold
is released (both recorded); SQLite keeps no erased content in -wal or free pages; the key file
lives next to the database, and `serve` refuses a key that cannot open the stored content (the
first refusal through the installed `fireline` script, the next two forked from a helper that
imported the CLI once: tests/support/forkcli.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fireline.calls import privacy
from fireline.calls.models import Call, Erasure, ErasureRequest
from fireline.config import Config, Settings, secret_path
from fireline.db import Database
from fireline.incidents.models import TimelineEntry
from tests.incidents.helpers import store_calls
from tests.support.cli import invoke as cli
from tests.support.fireline import Fireline, running
from tests.support.forkcli import Completed, ForkCli

MARK = "quokkazanzibar"  # plain words in the searchable copy, so the files can be searched


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db, Config.model_validate({"auto_contain": {}, "evals": {"close_requires_lock": False}})) as server:
        yield server


def calls_of(db: Database, user: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Call).where(
            Call.user_pseudonym == privacy.pseudonym(user))) or 0)


def test_erasure_blocked_by_a_hold_is_queued_and_done_when_the_hold_is_released(fl: Fireline) -> None:
    held, free = store_calls(fl.db, [{"user": "dora@example.com"}, {"user": "dora@example.com", "id": "call-free"}])
    with fl.client("responder") as http:
        inc = http.post("/api/v1/incidents", json={"title": "leak", "type": "data_leakage", "call_ids": [held],
                                                   "apps": ["support-bot"]}).json()  # the ack snapshot holds it
        first = http.delete("/api/v1/subjects/dora@example.com").json()
        assert first["deleted_calls"] == 1 and first["held_calls"] == 1 and first["queued"] is True
        assert first["held_by"] == [inc["id"]]
        assert calls_of(fl.db, "dora@example.com") == 1
        with fl.client("admin") as admin:
            (queued,) = admin.get("/api/v1/erasures", params={"status": "queued"}).json()["erasures"]
        assert queued["user_pseudonym"] == privacy.pseudonym("dora@example.com") and queued["held_by"] == [inc["id"]]
        for action in ("contain", "resolve", "close"):
            moved = http.post(f"/api/v1/incidents/{inc['id']}/{action}", json={"reason": action})
            assert moved.status_code == 200, moved.text
        with fl.client("admin") as admin:
            assert admin.get("/api/v1/erasures", params={"status": "queued"}).json()["erasures"] == []
            (done,) = admin.get("/api/v1/erasures").json()["erasures"]
        with fl.client("viewer") as viewer:
            assert viewer.get("/api/v1/erasures").status_code == 403
        assert done["status"] == "done" and [r["deleted_calls"] for r in done["runs"]] == [1, 1]
    assert calls_of(fl.db, "dora@example.com") == 0
    with fl.db.session() as s:
        request = s.scalars(select(ErasureRequest)).one()
        runs = list(s.scalars(select(Erasure).order_by(Erasure.id)))
        released = s.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == inc["id"],
                                                         TimelineEntry.kind == "hold_released")).one()
    assert request.done_at is not None and request.done_at >= request.requested_at
    assert [(r.deleted_calls, r.held_calls) for r in runs] == [(1, 1), (1, 0)]
    assert runs[1].actor.startswith("erasure queue")
    assert released.data == {"calls": 1, "queued_erasures_done": 1}


def database_files(db: Database) -> bytes:
    path = Path(db.engine.url.database or "")
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def test_erased_content_does_not_linger_in_the_sqlite_files(sqlite_db: Database) -> None:
    store_calls(sqlite_db, [{"user": "erin@example.com", "id": f"c{i}",
                             "input": [{"role": "user", "content": f"{MARK} question {i}"}]} for i in range(3)])
    assert MARK.encode() in database_files(sqlite_db)  # in the WAL (and the main file after a checkpoint)
    with running(sqlite_db) as server, server.client("responder") as http:
        assert http.delete("/api/v1/subjects/erin@example.com").json()["deleted_calls"] == 3
        path = Path(sqlite_db.engine.url.database or "")
        assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
        assert MARK.encode() not in database_files(sqlite_db)


def test_the_key_file_lives_next_to_the_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRELINE_SECRET_FILE", raising=False)
    db = tmp_path / "state" / "fireline.db"
    assert secret_path(Settings(database_url=f"sqlite:///{db}")) == db.parent / ".fireline-secret"
    pg = secret_path(Settings(database_url="postgresql://u:pw@h/db", data_dir=str(tmp_path)))
    assert pg == tmp_path / ".fireline-secret"
    home = secret_path(Settings(database_url="postgresql://u:pw@h/db"))
    assert "pw" not in str(home) and not str(home).startswith(".")


def serve(url: str, cwd: Path, fork_cli: ForkCli | None = None,
          **env: str) -> subprocess.CompletedProcess[str] | Completed:
    """`fireline serve` through the installed script, or forked from the helper that imported the CLI."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    base.update(FIRELINE_DATABASE_URL=url, COLUMNS="80", **env)
    if fork_cli is not None:
        return fork_cli.run(["serve", "--port", "1"], env=base, cwd=cwd, timeout=90)
    fireline = str(Path(sys.executable).with_name("fireline"))
    return subprocess.run([fireline, "serve", "--port", "1"], cwd=cwd, env=base, capture_output=True,
                          text=True, timeout=90)


def test_serve_refuses_a_key_that_cannot_open_the_stored_content(db: Database, tmp_path: Path,
                                                                  fork_cli: ForkCli) -> None:
    store_calls(db, [{"user": "finn@example.com"}])  # written with the tests' FIRELINE_SECRET
    assert privacy.key_problem(db) is None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = str(db.engine.url.render_as_string(hide_password=False))
    # no FIRELINE_SECRET: a key file is made next to the database (or in the data dir) -- another key
    proc = serve(url, elsewhere, FIRELINE_DATA_DIR=str(tmp_path / "data"))
    out = (proc.stdout + proc.stderr).strip()
    expected = secret_path(Settings(database_url=url, data_dir=str(tmp_path / "data")))
    assert proc.returncode == 1, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and str(expected) in lines[0] and "holds encrypted content" in lines[0], out
    # the key file a refused start made is not left in the way, nor made in the working directory
    assert not expected.exists() and not (elsewhere / ".fireline-secret").exists()
    expected.parent.mkdir(parents=True, exist_ok=True)
    expected.write_text("another-key")  # a key file that is there, but the wrong one
    proc = serve(url, elsewhere, fork_cli, FIRELINE_DATA_DIR=str(tmp_path / "data"))
    assert proc.returncode == 1 and f"the key from {expected} cannot open" in proc.stderr, proc.stderr
    assert expected.read_text() == "another-key"
    proc = serve(url, elsewhere, fork_cli, FIRELINE_SECRET="not-the-key")
    assert proc.returncode == 1 and "the key from FIRELINE_SECRET cannot open" in proc.stderr, proc.stderr


def test_a_queued_erasure_waits_for_the_last_hold(fl: Fireline) -> None:
    (call,) = store_calls(fl.db, [{"user": "gus@example.com"}])
    with fl.client("responder") as http:
        first, second = (http.post("/api/v1/incidents", json={"title": f"leak {n}", "type": "data_leakage",
                                                              "call_ids": [call], "apps": ["support-bot"]}).json()
                         for n in (1, 2))
        assert first["id"] != second["id"]
        queued = http.delete("/api/v1/subjects/gus@example.com").json()
        assert queued["queued"] is True and sorted(queued["held_by"]) == sorted([first["id"], second["id"]])
        code, out = cli(fl, "responder", "erase", "--user", "gus@example.com")  # asked again: still one request
        assert code == 0 and "queued: the held calls are erased when" in out, out
        for action in ("contain", "resolve", "close"):
            assert http.post(f"/api/v1/incidents/{first['id']}/{action}", json={"reason": action}).status_code == 200
        assert calls_of(fl.db, "gus@example.com") == 1  # still held by the second incident
        with fl.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Erasure)) == 2  # the two asks; no empty run recorded
        for action in ("contain", "resolve", "close"):
            assert http.post(f"/api/v1/incidents/{second['id']}/{action}", json={"reason": action}).status_code == 200
    assert calls_of(fl.db, "gus@example.com") == 0
    with fl.db.session() as s:
        assert s.scalars(select(ErasureRequest)).one().done_at is not None
