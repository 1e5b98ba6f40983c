"""A server (re)started while PostgreSQL is away: the gateway answers and spools, the API answers
503 with Retry-After, containment applied before the outage is still enforced, and when the
database is back the start completes without a restart and every spooled call is stored once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import func, select

from fireline.calls.models import Call
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.reliability.conftest import ADMIN_TOKEN, ingest_key, serve
from tests.reliability.load import wait_stored
from tests.reliability.pgcluster import PgCluster
from tests.support.process import ServeProcess

pytestmark = pytest.mark.timeout(300)
APP = {"X-Fireline-App": "support-bot"}
# A start during the outage tries the database for 1 s instead of the default 5 s, then serves without it.
QUICK_PROBE = {"FIRELINE_DB_START_PROBE_S": "1"}


def ask(server: ServeProcess, key: str, text: str, headers: dict[str, str] | None = None) -> tuple[str, str, str]:
    """One chat call through the gateway with the openai SDK: (call id, answer, contained header)."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], extra_headers=headers or APP)
    answer = raw.parse().choices[0].message.content or ""
    return raw.headers["x-fireline-call-id"], answer, raw.headers.get("x-fireline-contained", "")


def wait_started(server: ServeProcess, timeout: float = 90.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(server.url + "/healthz", timeout=10).json()
        if health["start"] == "complete":
            return health  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"the start did not complete: {health}\n{server.log_tail()}"
        time.sleep(0.25)


def assert_no_traceback(server: ServeProcess) -> None:
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:3000]


def test_a_server_started_during_an_outage_serves_the_gateway_and_completes_its_start_when_the_database_is_back(
        pg_cluster: PgCluster, upstream: UpstreamServer, tmp_path: Path) -> None:
    url = pg_cluster.create_database("coldstart")
    data = tmp_path / "data"
    with serve(url, data, upstream) as before:  # the deployment ran before the outage
        key = ingest_key(before)
        ask(before, key, "hello before the outage")
    pg_cluster.stop("fast")
    try:
        server = serve(url, data, upstream, env=QUICK_PROBE).start()
        try:
            health = httpx.get(server.url + "/healthz", timeout=10).json()
            assert (health["database"], health["start"]) == ("unavailable", "waiting_for_database"), health
            metrics = httpx.get(server.url + "/metrics", timeout=10)
            assert metrics.status_code == 200 and "fireline_database_up 0.0" in metrics.text
            answered = [ask(server, key, f"question {i} while the database is away") for i in range(20)]
            assert all(answer for _, answer, _ in answered)
            ids = [call_id for call_id, _, _ in answered]
            # The API cannot answer without its database: 503 naming it, with Retry-After, never a 500.
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            for method, path in (("GET", "/api/v1/calls"), ("GET", "/api/v1/incidents"),
                                 ("POST", "/api/v1/controls"), ("GET", f"/api/v1/calls/{ids[0]}")):
                r = httpx.request(method, server.url + path, headers=auth, json={} if method == "POST" else None,
                                  timeout=30)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"] == "5" and "database" in r.json()["detail"], (path, r.text)
            r = httpx.post(server.url + "/api/v1/calls", json={"app": "support-bot", "output": "x"},
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert (r.status_code, r.headers.get("retry-after")) == (503, "5"), r.text

            pg_cluster.start()
            health = wait_started(server)
            found = wait_stored(Database(url), ids, timeout=90)
            assert set(ids) - found == set()
            with Database(url).session() as session:  # exactly once: one row per answered call
                assert session.scalar(select(func.count()).select_from(Call).where(Call.id.in_(ids))) == len(ids)
            # Back to normal without a restart: the API reads and writes, the gateway logs at once.
            r = httpx.get(server.url + f"/api/v1/calls/{ids[0]}", headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            r = httpx.post(server.url + "/api/v1/calls", json={"app": "support-bot", "output": "after"},
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert r.status_code == 201, r.text
            after, _, _ = ask(server, key, "after the outage")
            assert wait_stored(Database(url), [after], timeout=60) == {after}
            assert_no_traceback(server)
        finally:
            server.stop()
    finally:
        if not pg_cluster.running():
            pg_cluster.start()


def test_a_kill_switch_applied_before_the_outage_holds_in_a_server_restarted_during_it(
        pg_cluster: PgCluster, upstream: UpstreamServer, tmp_path: Path) -> None:
    url = pg_cluster.create_database("coldstart_kill")
    data = tmp_path / "data"
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    first = serve(url, data, upstream).start()
    try:
        key = ingest_key(first)
        r = httpx.post(first.url + "/api/v1/controls", headers=auth, timeout=30, json={
            "kind": "kill_switch", "scope": {"app": "support-bot"}, "params": {"message": "Paused by the test."},
            "reason": "incident drill"})
        assert r.status_code == 201, r.text
        control = r.json()["id"]
        _, answer, contained = ask(first, key, "before the outage")
        assert (answer, contained) == ("Paused by the test.", control)
        pg_cluster.stop("immediate")
    finally:
        first.kill()  # kill -9 during the outage: no shutdown hook runs
    try:
        second = serve(url, data, upstream, env=QUICK_PROBE).start()
        try:
            assert httpx.get(second.url + "/healthz", timeout=10).json()["start"] == "waiting_for_database"
            call_id, answer, contained = ask(second, key, "during the outage, after the restart")
            assert (answer, contained) == ("Paused by the test.", control)
            # OpenFeature clients (the Guard SDK) get the same answer over OFREP.
            flag = httpx.post(second.url + "/ofrep/v1/evaluate/flags/fireline.support-bot.enabled", json={},
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert flag.status_code == 200, flag.text
            assert (flag.json()["value"], flag.json()["metadata"].get("controlId")) == (False, control)
            # Only its scope: another app is answered by the upstream.
            _, other, contained = ask(second, key, "another app", {"X-Fireline-App": "other-bot"})
            assert other and other != "Paused by the test." and contained == ""
            pg_cluster.start()
            wait_started(second)
            assert wait_stored(Database(url), [call_id], timeout=90) == {call_id}
            with Database(url).session() as session:
                assert session.get(Call, call_id).status == "contained"  # type: ignore[union-attr]
            # The database's state replaces the snapshot: a revert reaches the restarted server.
            r = httpx.delete(second.url + f"/api/v1/controls/{control}", headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            _, answer, contained = ask(second, key, "after the revert")
            assert answer != "Paused by the test." and contained == ""
            assert_no_traceback(second)
        finally:
            second.stop()
    finally:
        if not pg_cluster.running():
            pg_cluster.start()
