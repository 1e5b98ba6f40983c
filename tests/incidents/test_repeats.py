"""Repeats at once: a leak after the incident was closed opens a linked repeat incident within a
second, whatever the monitor's repeat interval (canary_leak: 15 min); while an incident is open,
new leaked answers attach to it as they arrive. Real gateway, real openai SDK, scriptable upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running, since_answered

APP = "support-bot"
CANARY = "CANARY-globex-0f1e2d3c4b"
CONFIG: dict[str, Any] = {"apps": {APP: {"fallback": "Paused.", "models": ["gpt-4o-2024-08-06"]}}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


def ask(fl: Fireline, *, leak: bool, tenant: str = "acme", user: str = "u1@acme.example") -> str:
    """One answer through the gateway; returns the call id."""
    c = openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys["ingest"], max_retries=0, timeout=10)
    headers = {"X-Fireline-App": APP, "X-Fireline-Tenant": tenant, "X-Fireline-Session": f"s-{user}"}
    if leak:
        headers |= {"X-Upstream-Mode": "leak_canary", "X-Upstream-Params": json.dumps({"token": CANARY})}
    raw = c.chat.completions.with_raw_response.create(
        model="gpt-4o-2024-08-06", user=user, messages=[{"role": "user", "content": "My contract?"}],
        extra_headers=headers)
    return str(raw.headers["x-fireline-call-id"])


def stored(c: httpx.Client, call_id: str) -> dict[str, Any]:
    call = wait(lambda: (r := c.get(f"/api/v1/calls/{call_id}")).status_code == 200 and r.json())
    return dict(call)


def wait(fn: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.01)
    return None


def incidents(c: httpx.Client) -> list[dict[str, Any]]:
    return list(c.get("/api/v1/incidents").json()["incidents"])


def test_a_leak_after_close_opens_a_linked_repeat_within_a_second(db: Database, upstream: UpstreamServer) -> None:
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as fl, \
            fl.client("responder") as c:
        assert c.post("/api/v1/canaries", json={"tenant": "globex", "token": CANARY}).status_code == 201
        for _ in range(5):
            ask(fl, leak=False)
        first_leak = ask(fl, leak=True)
        (first,) = wait(lambda: incidents(c) or None)
        assert first["severity"] == "P0" and first_leak in first["linked_calls"]
        assert wait(lambda: c.get(f"/api/v1/incidents/{first['id']}").json()["state"] == "contained")
        for move in ("ack", "resolve"):
            assert c.post(f"/api/v1/incidents/{first['id']}/{move}").status_code == 200
        assert c.post(f"/api/v1/incidents/{first['id']}/evals/waive", json={"reason": "test"}).status_code < 300
        assert c.post(f"/api/v1/incidents/{first['id']}/close").status_code == 200
        for ctl in c.get("/api/v1/controls", params={"incident_id": first["id"]}).json()["controls"]:
            c.delete(f"/api/v1/controls/{ctl['id']}", params={"reason": "fixed"})

        again = ask(fl, leak=True, tenant="umbrella", user="u2@umbrella.example")
        repeat = wait(lambda: next((i for i in incidents(c) if i["id"] != first["id"]), None), timeout=10)
        assert repeat is not None, "no repeat incident"
        latency = since_answered(repeat["detected_at"], stored(c, again))  # on the server's clock
        assert latency <= timedelta(seconds=1), f"the repeat was opened {latency} after the leaked answer"
        assert repeat["linked_calls"] == [again]  # never the previous incident's calls
        assert {"id": first["id"], "kind": "repeat_of"} in repeat["related"]
        old = c.get(f"/api/v1/incidents/{first['id']}").json()
        assert old["state"] == "closed" and {"id": repeat["id"], "kind": "repeated_by"} in old["related"]
        timeline = c.get(f"/api/v1/incidents/{repeat['id']}/timeline").json()["entries"]
        assert [e["data"]["of"] for e in timeline if e["kind"] == "repeat"] == [first["id"]]
        assert wait(lambda: c.get(f"/api/v1/incidents/{repeat['id']}").json()["state"] == "contained")


def test_new_leaks_attach_to_the_open_incident_as_they_arrive(db: Database, upstream: UpstreamServer) -> None:
    config = Config.model_validate({**CONFIG, "auto_contain": {}})
    with running(db, config, upstream_url=upstream.base_url) as fl, fl.client("responder") as c:
        assert c.post("/api/v1/canaries", json={"tenant": "globex", "token": CANARY}).status_code == 201
        ask(fl, leak=True)
        (inc,) = wait(lambda: incidents(c) or None)
        for n in range(3):
            call = ask(fl, leak=True, user=f"v{n}@acme.example")
            got = wait(lambda call=call: call in c.get(f"/api/v1/incidents/{inc['id']}").json()["linked_calls"],
                       timeout=10)
            assert got
            # linked within a second of its answer, on the server's clock (the timeline entry that linked it)
            entries = c.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "calls_linked"}).json()
            (linked,) = [e for e in entries["entries"] if call in e["data"]["call_ids"]]
            assert since_answered(linked["at"], stored(c, call)) <= timedelta(seconds=1)
        assert len(incidents(c)) == 1
        timeline = c.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"kind": "calls_linked"}).json()
        assert sum(e["data"]["calls"] for e in timeline["entries"]) == 3
