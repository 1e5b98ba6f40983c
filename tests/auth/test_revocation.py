"""Revoked keys stay revoked: the seed admin key across restarts, any key in every process on
its next request (same data directory: the epoch file; elsewhere: the revocation poll)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fireline.auth import service as keys
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.process import ServeProcess

TOKEN = "fl-seed-admin-token-for-revocation-tests"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "fireline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    yield path


def status(url: str, token: str) -> int:
    return httpx.get(url + "/api/v1/calls/count", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def gateway_status(url: str, token: str) -> int:
    """A chat completion through the gateway (its own key cache, checked before the upstream)."""
    return httpx.post(url + "/v1/chat/completions", timeout=10,
                      json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                      headers={"Authorization": f"Bearer {token}", "X-Fireline-App": "support-bot"}).status_code


def test_a_revoked_seed_admin_key_stays_revoked_after_restart(sqlite_url: str, data_dir: Path) -> None:
    with ServeProcess(sqlite_url, data_dir, admin_token=TOKEN) as server:
        assert status(server.url, TOKEN) == 200
        keys_list = httpx.get(server.url + "/api/v1/keys", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        (seed,) = [k for k in keys_list["keys"] if k["name"] == "FIRELINE_ADMIN_TOKEN"]
        r = httpx.delete(f"{server.url}/api/v1/keys/{seed['id']}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert status(server.url, TOKEN) == 401
    with ServeProcess(sqlite_url, data_dir, admin_token=TOKEN) as server:
        assert status(server.url, TOKEN) == 401  # the restart did not bring it back
    with ServeProcess(sqlite_url, data_dir, admin_token=TOKEN + "-rotated") as server:
        assert status(server.url, TOKEN + "-rotated") == 200  # a new token seeds a new admin key
        assert status(server.url, TOKEN) == 401


def test_a_rotated_seed_token_retires_the_old_one(db: Database) -> None:
    with db.writing() as s:
        keys.seed_admin(s, "first-token")
    with db.writing() as s:
        keys.seed_admin(s, "second-token")
    keys.forget_cache()
    assert keys.authenticate(db.sessionmaker, "first-token") is None
    assert keys.authenticate(db.sessionmaker, "second-token") is not None
    with db.writing() as s:
        keys.seed_admin(s, "first-token")  # an old token set again does not come back
    keys.forget_cache()
    assert keys.authenticate(db.sessionmaker, "first-token") is None


def test_revocation_takes_effect_on_the_next_request_of_every_process(sqlite_url: str, data_dir: Path,
                                                                      tmp_path: Path) -> None:
    other_host = tmp_path / "other-host"  # a replica that shares the database, not the data directory
    other_host.mkdir()
    with UpstreamServer(record=False) as upstream, \
            ServeProcess(sqlite_url, data_dir, admin_token=TOKEN, upstream_url=upstream.base_url) as a, \
            ServeProcess(sqlite_url, data_dir, admin_token=TOKEN, upstream_url=upstream.base_url) as b, \
            ServeProcess(sqlite_url, other_host, admin_token=TOKEN) as c:
        created = httpx.post(a.url + "/api/v1/keys", json={"role": "viewer"},
                             headers={"Authorization": f"Bearer {TOKEN}"}).json()
        for server in (a, b, c):  # every process has it cached as valid
            assert status(server.url, created["key"]) == 200
        assert gateway_status(b.url, created["key"]) == 200  # and the gateway of b too
        r = httpx.delete(f"{a.url}/api/v1/keys/{created['id']}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert gateway_status(b.url, created["key"]) == 401  # the very next request of another worker
        assert status(a.url, created["key"]) == 401
        assert status(b.url, created["key"]) == 401
        deadline = time.monotonic() + 5
        while status(c.url, created["key"]) != 401:  # another host: the revocation poll (1 s)
            assert time.monotonic() < deadline, "the other host still accepts a revoked key"
            time.sleep(0.1)
