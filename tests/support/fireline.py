"""A running Fireline for tests: the real app on loopback, with keys of every role."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fireline.api import create_app
from fireline.auth import service as keys
from fireline.config import Config
from fireline.db import Database
from tests.support.servers import ServerThread


@dataclass
class Fireline:
    url: str
    db: Database
    app: Any
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = "admin", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextmanager
def running(db: Database, config: Config | None = None, *, upstream_url: str | None = None,
            upstream_key: str | None = None, data_dir: Path | None = None) -> Iterator[Fireline]:
    """upstream_url/upstream_key: where the gateway forwards (else FIRELINE_UPSTREAM_URL/_KEY);
    data_dir: the server's local state (a fresh temporary directory by default).

    The gateway's writer prepares calls in its own thread here unless the config sets
    `gateway.prepare_process`: the helper process (the default in production) is a spawned
    interpreter per server, 1-5 s of CPU on the shared 2 cores and a wait at stop, and it serves
    only once started, so a short test would mostly not use it anyway. tests/gateway/test_screen.py
    and test_spool.py run it, and check that it prepares and finds what the writer thread does."""
    own_dir = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="fl-data-"))
    config = config or Config()
    gateway = config.section("gateway") or {}
    if "prepare_process" not in gateway:
        config = config.model_copy(update={"gateway": {**gateway, "prepare_process": False}})
    app = create_app(db, config, data_dir=data_dir)
    if upstream_url is not None:
        app.state.upstream_url = upstream_url
    if upstream_key is not None:
        app.state.upstream_key = upstream_key
    server = ServerThread(app).start()
    try:
        fl = Fireline(url=server.url, db=db, app=app)
        with db.writing() as session:
            for role in keys.ROLES:
                _, fl.keys[role] = keys.create_key(session, role, f"test-{role}")
        yield fl
    finally:
        server.stop()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def answered_at(call: dict[str, Any]) -> datetime:
    """When the server finished a stored call, on its own clock: the call's start plus its latency.
    Detection-latency checks count from here, not from the test's clock, which would add the
    client's and the loaded machine's time around the request."""
    started = datetime.fromisoformat(str(call["started_at"]).replace("Z", "+00:00"))
    return started + timedelta(milliseconds=float(call["latency_ms"] or 0))


def since_answered(at: str, call: dict[str, Any]) -> timedelta:
    """From the server's answer to `call` to a server timestamp (an incident's detected_at, a timeline entry's at)."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")) - answered_at(call)
