"""`fireline serve --workers N`: N processes on one port sharing their state through PostgreSQL
alone, no Redis (a control applied through one connection is enforced by whichever worker answers
the next; a rate limit, a token budget and a session limit are each one limit across the
workers); on SQLite one process, whatever is asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
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


def ingested(metrics: str) -> float:
    """This worker's count of calls stored through the native API (its own process's counter)."""
    for line in metrics.splitlines():
        if line.startswith('fireline_calls_ingested_total{source="api"} '):
            return float(line.split()[-1])
    return 0.0


def fresh(url: str) -> httpx.Client:
    """A client without keep-alive: every request is a new connection, which any worker may accept."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Connection": "close"},
                        timeout=30)


# A session of app "agent" may take 6 steps: counted across the workers (PostgreSQL, no Redis here).
WORKERS_CONFIG = {**CONFIG, "apps": {**CONFIG["apps"], "bud-bot": {}},
                  "sessions": {"apps": {"agent": {"max_steps": 6}}}}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[ServeProcess]:
    with database() as url, UpstreamServer(record=False) as upstream, \
            ServeProcess(url, tmp_path_factory.mktemp("workers"), admin_token=ADMIN_TOKEN, config=WORKERS_CONFIG,
                         workers=2, upstream_url=upstream.base_url) as proc:
        deadline = time.monotonic() + 30
        while len(workers_of(proc)) < 2:
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.2)
        yield proc


def test_workers_share_one_port_and_the_control_plane(two_workers: ServeProcess) -> None:
    with fresh(two_workers.url) as c:
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


def test_a_session_limit_is_one_limit_across_the_workers(two_workers: ServeProcess) -> None:
    """20 steps of one session, each on a new connection (either worker may take it), against a
    limit of 6: exactly the 14 past it are flagged, as one process counting them all would."""
    with fresh(two_workers.url) as c:
        for i in range(20):
            r = c.post("/api/v1/calls", json={"id": f"step-{i:02d}", "app": "agent", "session_id": "run-1",
                                              "input": [{"role": "user", "content": f"step {i}"}], "output": "ok"})
            assert r.status_code == 201, r.text
        stored = {ingested(c.get("/metrics").text) for _ in range(40)}  # each worker's own count
        flagged = [i for i in range(20) if any(
            f["detector"] == "session" and f["kind"] == "steps"
            for f in c.get(f"/api/v1/calls/step-{i:02d}").json()["findings"])]
    # A worker that stored some but not all of them: the other stored the rest.
    assert all(0 < n < 20 for n in stored), f"one worker stored all 20 ({stored}): nothing was shared"
    assert flagged == list(range(6, 20)), flagged


def test_sqlite_serves_with_one_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fireline.db"
    with ServeProcess(url, tmp_path, admin_token=ADMIN_TOKEN, config=CONFIG, workers=3) as proc:
        assert workers_of(proc) == []  # uvicorn serves in the main process
        assert httpx.get(proc.url + "/healthz", timeout=10).status_code == 200
    assert "SQLite allows one writing process" in proc.log_path.read_text()


def test_a_rate_limit_is_one_limit_across_the_workers_without_redis(two_workers: ServeProcess) -> None:
    """A rate limit of 5 per minute for one user, 30 gateway calls each on a new connection (both
    workers take them: the session test above shows it): 5 go through in all, counted in
    PostgreSQL, not 5 per worker."""
    with fresh(two_workers.url) as c:
        r = c.post("/api/v1/controls", json={"kind": "rate_limit", "scope": {"app": "rl-bot"},
                                             "params": {"per_minute": 5}, "reason": "workers test"})
        assert r.status_code == 201, r.text
        time.sleep(1.0)  # NOTIFY reaches the other worker well within this
        codes = [c.post("/v1/chat/completions", headers={"X-Fireline-App": "rl-bot", "X-Fireline-User": "u-5"},
                        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}).status_code
                 for _ in range(30)]
    assert codes.count(200) == 5 and codes.count(429) == 25, codes


def test_a_token_budget_is_one_budget_across_the_workers_without_redis(two_workers: ServeProcess) -> None:
    """A user's budget of 3.5 calls' worth of tokens per hour: the first 4 calls go through (each
    checked against what both workers spent so far), every later one is refused as spent."""
    def ask(c: httpx.Client) -> httpx.Response:
        return c.post("/v1/chat/completions", headers={"X-Fireline-App": "bud-bot", "X-Fireline-User": "u-b"},
                      json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    with fresh(two_workers.url) as c:
        usage = c.post("/v1/chat/completions", headers={"X-Fireline-App": "bud-bot", "X-Fireline-User": "probe"},
                       json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}).json()["usage"]
        per_call = usage["prompt_tokens"] + usage["completion_tokens"]
        r = c.post("/api/v1/controls", json={"kind": "budget", "scope": {"app": "bud-bot"},
                                             "params": {"tokens": per_call * 3.5, "per": "hour", "key": "user"},
                                             "reason": "workers test"})
        assert r.status_code == 201, r.text
        time.sleep(1.0)  # NOTIFY reaches the other worker well within this
        answers = [ask(c) for _ in range(12)]
    codes = [a.status_code for a in answers]
    assert codes == [200] * 4 + [429] * 8, codes
    assert all(a.json()["error"]["code"] == "budget_exceeded" for a in answers[4:])
