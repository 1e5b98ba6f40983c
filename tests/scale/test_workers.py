"""`fireline serve --workers N`: N processes on one port sharing their state through PostgreSQL
(a control applied through one connection is enforced by whichever worker answers the next);
on SQLite one process, whatever is asked."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from fireline.simulator.upstream import UpstreamServer
from tests.scale.replicas import ADMIN_TOKEN, CONFIG, database
from tests.support.process import ServeProcess

pytestmark = pytest.mark.timeout(240)


def workers_of(proc: ServeProcess) -> list[int]:
    """The pids of the server's worker processes (its children running Python)."""
    assert proc.proc is not None
    children = Path(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children").read_text().split()
    return [int(c) for c in children if "python" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]


def fresh(url: str) -> httpx.Client:
    """A client without keep-alive: every request is a new connection, which any worker may accept."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Connection": "close"},
                        timeout=30)


def test_workers_share_one_port_and_the_control_plane(tmp_path: Path, pg_url: str) -> None:
    with database() as url, UpstreamServer(record=False) as upstream, \
            ServeProcess(url, tmp_path, admin_token=ADMIN_TOKEN, config=CONFIG, workers=2,
                         upstream_url=upstream.base_url) as proc:
        deadline = time.monotonic() + 30
        while len(workers_of(proc)) < 2:
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.2)
        with fresh(proc.url) as c:
            r = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "bot"}, "reason": "t"})
            assert r.status_code == 201, r.text
            time.sleep(1.0)  # NOTIFY reaches the other worker well within this
            answers = [c.post("/v1/chat/completions", headers={"X-Fireline-App": "bot"},
                              json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
                       for _ in range(20)]
            assert all(a.status_code == 200 and a.headers.get("x-fireline-contained") == r.json()["id"]
                       for a in answers), [a.status_code for a in answers]
            revisions = {c.get("/api/v1/controls").json()["revision"] for _ in range(10)}
            assert revisions == {r.json()["revision"]}


def test_sqlite_serves_with_one_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fireline.db"
    with ServeProcess(url, tmp_path, admin_token=ADMIN_TOKEN, config=CONFIG, workers=3) as proc:
        assert workers_of(proc) == []  # uvicorn serves in the main process
        assert httpx.get(proc.url + "/healthz", timeout=10).status_code == 200
    assert "SQLite allows one writing process" in proc.log_path.read_text()
