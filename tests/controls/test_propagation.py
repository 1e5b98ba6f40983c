"""Propagation: the SSE stream, the Guard SDK, OFREP with the real OpenFeature SDK, the provider."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import Reason

from fireline.api import create_app
from fireline.auth import service as keys
from fireline.db import Database
from fireline.guard import Guard
from fireline.guard.openfeature import FirelineProvider
from fireline.serving import ServerThread
from tests.controls.conftest import make_config
from tests.support.fireline import Fireline, running

KILL = {"kind": "kill_switch", "scope": {"app": "bot"}}


def read_events(fl: Fireline, count: int, collected: list[dict[str, Any]], opened: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {fl.keys['ingest']}"}
    with httpx.stream("GET", f"{fl.url}/api/v1/controls/stream", headers=headers, timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for line in resp.iter_lines():
            if line.startswith(":"):
                event.setdefault("comments", 0)
                continue
            if not line:
                if "data" in event:
                    collected.append(event)
                    opened.set()
                    if len(collected) >= count:
                        return
                event = {}
                continue
            name, _, value = line.partition(": ")
            event[name] = json.loads(value) if name == "data" else value


def test_stream_sends_full_state_then_one_event_per_change(fl: Fireline) -> None:
    events: list[dict[str, Any]] = []
    opened = threading.Event()
    reader = threading.Thread(target=read_events, args=(fl, 3, events, opened), daemon=True)
    reader.start()
    assert opened.wait(5)
    with fl.client("responder") as c:
        kill = c.post("/api/v1/controls", json=KILL).json()
        deadline = time.monotonic() + 10  # the change is read before the revert (a burst would coalesce)
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        revert = c.delete(f"/api/v1/controls/{kill['id']}").json()
    reader.join(5)
    first, change, back = events
    assert first["event"] == "state" and first["data"]["controls"] == []
    assert first["data"]["apps"]["bot"]["tools"]["issue_refund"] == "write"
    assert change["event"] == "change" and change["id"] == str(kill["revision"])
    assert [x["id"] for x in change["data"]["controls"]] == [kill["id"]]
    assert back["id"] == str(revert["revision"]) and back["data"]["controls"] == []


def test_stream_needs_a_key(fl: Fireline) -> None:
    assert httpx.get(f"{fl.url}/api/v1/controls/stream").status_code == 401


def test_guard_gets_each_change_pushed_on_its_open_stream_and_answers_from_memory(db: Database) -> None:
    """Each change reaches the Guard as one pushed state on the stream it holds open (the stream
    here lasts a minute, so a reconnect cannot be what delivers it); the time it takes is
    bench/propagation.py's figure (p99 <= 100 ms), the cost of an answer bench/lookups.py's."""
    config = make_config(controls={"expiry_interval_s": 0.1, "poll_interval_s": 0.2, "keepalive_s": 0.5,
                                   "stream_max_s": 60.0})
    with running(db, config) as fl, Guard(fl.url, fl.keys["ingest"], "bot") as guard, \
            fl.client("responder") as c:
        assert guard.wait_ready(5)
        received: list[int] = []
        guard.add_listener(lambda state: received.append(state.revision))
        assert guard.enabled() and guard.model() == "gpt-4o-2024-08-06" and not guard.read_only()
        assert guard.prompt_version() == "v12"
        revisions = []
        for body in (KILL, {"kind": "model_pin", "scope": {"app": "bot"}, "params": {"model": "gpt-4o-mini"}},
                     {"kind": "read_only", "scope": {"app": "bot"}},
                     {"kind": "disable_tool", "scope": {"app": "bot", "tool": "lookup_order"}},
                     {"kind": "rate_limit", "scope": {"app": "bot"}, "params": {"per_minute": 2}}):
            revisions.append(c.post("/api/v1/controls", json=body).json()["revision"])
            assert guard.wait_for_revision(revisions[-1], 10)
        deadline = time.monotonic() + 5  # listeners run just after the state is set
        while len(received) < len(revisions) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert received == revisions  # one state per change, none re-sent by a reconnect
        assert not guard.enabled() and guard.fallback_message() == "The assistant is paused."
        assert guard.model() == "gpt-4o-mini" and guard.read_only()
        assert not guard.tool_allowed("issue_refund") and not guard.tool_allowed("lookup_order")
        assert guard.tool_allowed("something_else")
        assert guard.check_rate("alice") is None and guard.check_rate("alice") is None
        retry = guard.check_rate("alice")
        assert retry is not None and retry > 0
        assert guard.check_rate("bob") is None
        # answered from the state in memory: a repeated question is the same answer object
        assert guard.enforcement(user="alice") is guard.enforcement(user="alice")


def test_guard_keeps_last_state_when_server_goes_down_and_reconnects(db: Database, tmp_path: Path) -> None:
    server = ServerThread(create_app(db, make_config(), data_dir=tmp_path)).start()
    with db.writing() as session:
        _, key = keys.create_key(session, "responder", "guard-test")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=headers) as c:
        kill_id = c.post("/api/v1/controls", json=KILL).json()["id"]
    guard = Guard(server.url, key, "bot", max_backoff=0.2)
    try:
        assert guard.wait_ready(5) and not guard.enabled()
        revision = guard.revision
        server.stop()  # the stream ends within stream_max_s; reconnects then fail
        deadline = time.monotonic() + 5
        while guard.connected or guard.last_error is None:
            assert time.monotonic() < deadline, "guard still connected to a stopped server"
            time.sleep(0.05)
        assert not guard.enabled() and guard.revision == revision  # last known state kept
        server = ServerThread(create_app(db, make_config(), data_dir=tmp_path), port=server.port).start()
        with httpx.Client(base_url=server.url, headers=headers) as c:
            rev = c.delete(f"/api/v1/controls/{kill_id}").json()["revision"]
        assert guard.wait_for_revision(rev, 5) and guard.enabled()
    finally:
        guard.close()
        server.stop()


def test_cold_start_without_a_server_fails_safe_per_app() -> None:
    url = "http://127.0.0.1:9"  # nothing listens on the discard port
    with Guard(url, "k", "bot", fail_closed=True, max_backoff=0.1) as closed, \
            Guard(url, "k", "bot", fail_closed=False, max_backoff=0.1) as open_:
        assert not closed.wait_ready(0.3)
        assert not closed.enabled() and closed.read_only() and not closed.tool_allowed("lookup_order")
        assert open_.enabled() and not open_.read_only() and open_.tool_allowed("lookup_order")
        assert closed.model() is None and closed.last_error


def ofrep(fl: Fireline, key: str, context: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    with fl.client("ingest") as c:
        return c.post(f"/ofrep/v1/evaluate/flags/{key}", json={"context": context or {}}, **kw)


def test_ofrep_flags_follow_controls_with_user_and_tenant_targeting(fl: Fireline) -> None:
    assert ofrep(fl, "fireline.bot.enabled").json() == {
        "key": "fireline.bot.enabled", "value": True, "reason": "DEFAULT", "variant": "enabled",
        "metadata": {"revision": 0}}
    with fl.client("responder") as c:
        kill = c.post("/api/v1/controls",
                      json={"kind": "kill_switch", "scope": {"app": "bot", "user": "mallory"}}).json()
        c.post("/api/v1/controls", json={"kind": "disable_tool", "scope": {"app": "bot", "tenant": "acme",
                                                                          "tool": "issue_refund"}})
    hit = ofrep(fl, "fireline.bot.enabled", {"targetingKey": "mallory"}).json()
    assert hit["value"] is False and hit["reason"] == "TARGETING_MATCH" and hit["metadata"]["controlId"] == kill["id"]
    assert ofrep(fl, "fireline.bot.enabled", {"targetingKey": "alice"}).json()["value"] is True
    key = "fireline.bot.tool.issue_refund.enabled"
    assert ofrep(fl, key, {"targetingKey": "a", "tenant": "acme"}).json()["value"] is False
    assert ofrep(fl, key, {"targetingKey": "a", "tenant": "beta"}).json()["value"] is True
    assert ofrep(fl, "fireline.bot.model").json()["value"] == "gpt-4o-2024-08-06"
    assert ofrep(fl, "fireline.bot.prompt_version").json()["value"] == "v12"
    assert ofrep(fl, "fireline.bot.read_only").json()["value"] is False


def test_ofrep_errors_have_the_protocol_shape(fl: Fireline) -> None:
    r = ofrep(fl, "not.a.fireline.flag")
    assert r.status_code == 404 and r.json()["errorCode"] == "FLAG_NOT_FOUND" and r.json()["key"]
    with fl.client("ingest") as c:
        r = c.post("/ofrep/v1/evaluate/flags/fireline.bot.enabled", content=b"{nope",
                   headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["errorCode"] == "PARSE_ERROR"
        r = c.post("/ofrep/v1/evaluate/flags/fireline.bot.enabled", json={"context": ["x"]})
        assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_CONTEXT"
    assert httpx.post(f"{fl.url}/ofrep/v1/evaluate/flags/fireline.bot.enabled", json={}).status_code == 401


def test_ofrep_bulk_has_etag_and_answers_304_until_a_change(fl: Fireline) -> None:
    with fl.client("ingest") as c, fl.client("responder") as r:
        first = c.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u"}})
        etag = first.headers["etag"]
        flags = {f["key"]: f["value"] for f in first.json()["flags"]}
        assert flags["fireline.bot.enabled"] is True and flags["fireline.bot.tool.issue_refund.enabled"] is True
        again = c.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u"}},
                       headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag
        r.post("/api/v1/controls", json=KILL)
        changed = c.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u"}},
                         headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert {f["key"]: f["value"] for f in changed.json()["flags"]}["fireline.bot.enabled"] is False


def test_openfeature_sdk_with_the_ofrep_provider(fl: Fireline) -> None:
    key = fl.keys["ingest"]
    openfeature.set_provider_and_wait(OFREPProvider(fl.url, headers_factory=lambda: {"Authorization": f"Bearer {key}"}),
                             domain="ofrep-test")
    client = openfeature.get_client("ofrep-test")
    ctx = EvaluationContext(targeting_key="alice", attributes={"tenant": "acme"})
    try:
        assert client.get_boolean_value("fireline.bot.enabled", False, ctx) is True
        assert client.get_string_value("fireline.bot.model", "x", ctx) == "gpt-4o-2024-08-06"
        with fl.client("responder") as c:
            c.post("/api/v1/controls", json=KILL)
            c.post("/api/v1/controls", json={"kind": "model_pin", "scope": {"app": "bot"},
                                             "params": {"model": "gpt-4o-2024-05-13"}})
        details = client.get_boolean_details("fireline.bot.enabled", True, ctx)
        assert details.value is False and details.reason == Reason.TARGETING_MATCH
        assert client.get_string_value("fireline.bot.model", "x", ctx) == "gpt-4o-2024-05-13"
        missing = client.get_boolean_details("fireline.nope", True, ctx)
        assert missing.value is True and missing.error_code is not None
    finally:
        openfeature.shutdown()


def test_fireline_provider_gets_pushed_updates(fl: Fireline) -> None:
    provider = FirelineProvider.connect(fl.url, fl.keys["ingest"], "bot")
    changes: list[Any] = []
    openfeature.set_provider_and_wait(provider, domain="fireline-test")
    client = openfeature.get_client("fireline-test")
    from openfeature.event import ProviderEvent

    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changes.append)
    try:
        ctx = EvaluationContext(targeting_key="alice")
        details = client.get_boolean_details("fireline.bot.enabled", False, ctx)
        assert details.value is True, details
        with fl.client("responder") as c:
            rev = c.post("/api/v1/controls", json={"kind": "read_only", "scope": {"app": "bot"}}).json()["revision"]
        assert provider.guard.wait_for_revision(rev, 1)
        assert client.get_boolean_value("fireline.bot.read_only", False, ctx) is True
        assert client.get_boolean_value("fireline.bot.tool.issue_refund.enabled", True, ctx) is False
        deadline = time.monotonic() + 2
        while not any("fireline.bot.read_only" in (e.flags_changed or []) for e in changes):
            assert time.monotonic() < deadline, changes
            time.sleep(0.01)
    finally:
        openfeature.shutdown()
        provider.guard.close()


@pytest.mark.parametrize("n", [20])
def test_revisions_stay_unique_and_ordered_under_concurrent_writers(fl: Fireline, n: int) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def apply(i: int) -> None:
        with fl.client("responder") as c:
            r = c.post("/api/v1/controls", json={"kind": "rate_limit", "scope": {"app": "bot", "user": f"u{i}"},
                                                 "params": {"per_minute": 5}})
            assert r.status_code == 201, r.text
            with lock:
                results.append(r.json()["revision"])

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, n + 1))
    assert fl.app.state.controls.current().revision == n


def test_another_process_sees_changes_by_notify_or_poll(db: Database) -> None:
    """Two servers on one database (replicas): PostgreSQL pushes with NOTIFY, SQLite polls."""
    slow_poll = make_config(controls={"poll_interval_s": 30.0 if db.dialect == "postgresql" else 0.2,
                                      "expiry_interval_s": 30.0})
    with running(db, slow_poll) as a, running(db, slow_poll) as b, a.client("responder") as c:
        other = b.app.state.controls
        for _ in range(3):
            out = c.post("/api/v1/controls", json=KILL).json()
            # PostgreSQL: within a tenth of the 30 s poll interval, so only NOTIFY can have brought it
            deadline = time.monotonic() + 3.0
            while other.current().revision < out["revision"]:
                assert time.monotonic() < deadline, "the other server did not see the change"
                time.sleep(0.002)
            assert other.current().for_request(app="bot").kill is not None
            c.delete(f"/api/v1/controls/{out['id']}")
