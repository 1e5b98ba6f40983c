"""Agents and keys through the gateway with the real openai SDK: a tool loop caught inside the loop
and contained for its session only; a stolen key's spend spike stopped by a budget, the key named
and revoked by the playbook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import openai
import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.policies.conftest import client, scripted, stored, tool, wait_incident
from tests.support.fireline import Fireline, running, since_answered

CONFIG: dict[str, Any] = {
    "apps": {"loop-agent": {"tools": {"fetch_page": "read", "save_note": "write"}},
             "chat-app": {"models": ["gpt-4o-mini"]}},
    "sessions": {"max_identical_tool_calls": 5},
    "pricing": {"gpt-4o-mini": {"input": 0.15, "output": 0.60}},
    "rule_alerts": {"repeat_s": 0.5},
}


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as server:
        yield server


def test_a_tool_loop_is_caught_inside_the_loop_and_contained_for_that_session(fl: Fireline) -> None:
    c = client(fl)
    tools = [tool("fetch_page", url="string")]

    def step(session: str) -> Any:
        return c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise the pricing page."}],
            tools=tools,  # type: ignore[arg-type]
            extra_headers={"X-Fireline-App": "loop-agent", "X-Fireline-Session": session,
                           **scripted(tool_name="fetch_page", arguments={"url": "https://example.com/pricing"})})

    over_limit: str | None = None
    stopped_at = None
    for i in range(1, 41):  # the agent would call the same tool with the same URL forty times
        r = step("run-1")
        if i == 6:
            over_limit = r.headers["x-fireline-call-id"]  # the first call over max_identical_tool_calls (5)
        if not r.parse().choices[0].message.tool_calls:
            stopped_at = i
            break
        time.sleep(0.1)  # the agent runs the tool before asking again
    assert stopped_at is not None and stopped_at < 40, "the loop ran to its end"
    assert over_limit is not None
    assert r.headers["x-fireline-contained"].startswith("ctl_")

    inc = wait_incident(fl, lambda i: i["scope"]["sessions"] == ["run-1"])
    assert (inc["type"], inc["severity"]) == ("cost_runaway", "P1")
    assert since_answered(inc["detected_at"], stored(fl, over_limit)) <= timedelta(seconds=1)  # server's clock
    assert inc["contained_at"] is not None
    with fl.client("viewer") as http:
        controls = http.get("/api/v1/controls", params={"incident_id": inc["id"]}).json()["controls"]
    assert [(x["kind"], x["scope"], x["actor"]) for x in controls] == [
        ("kill_switch", {"app": "loop-agent", "session": "run-1"}, "auto-contain")]
    findings = {(f["detector"], f["kind"]) for f in stored(fl, inc["linked_calls"][0])["findings"]}
    assert ("session", "tool_loop") in findings

    # Another session of the same agent is not touched.
    other = step("run-2")
    assert other.parse().choices[0].message.tool_calls
    assert "x-fireline-contained" not in other.headers


def test_a_stolen_keys_spend_spike_is_stopped_by_a_budget_and_the_key_revoked(fl: Fireline) -> None:
    with fl.client("responder") as http:
        r = http.post("/api/v1/controls", json={"kind": "budget", "scope": {"app": "chat-app"},
                                                "params": {"usd": 0.25, "per": "hour", "key": "key"},
                                                "reason": "standing budget per API key"})
        assert r.status_code == 201, r.text
        budget = r.json()
        assert budget["params"]["window_s"] == 3600.0
        bad = http.post("/api/v1/controls", json={"kind": "budget", "scope": {"app": "chat-app"},
                                                  "params": {"usd": 1, "tokens": 5}})
        assert bad.status_code == 422 and bad.json()["field"] == "params.tokens"
    stolen, other = client(fl, "ingest"), client(fl, "viewer")
    headers = {"X-Fireline-App": "chat-app", "X-Fireline-Tenant": "acme"}

    def ask(c: openai.OpenAI, mode: str, session: str) -> Any:
        return c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Write me a long essay."}],
            extra_headers={**headers, "X-Fireline-Session": session, "X-Upstream-Mode": mode})

    normal = ask(stolen, "normal", "app-1")  # the app's own traffic: cents
    key_id = stored(fl, normal.headers["x-fireline-call-id"])["api_key_id"]
    assert key_id and key_id.startswith("key_")

    stopped = None
    for i in range(10):  # 250,000 output tokens a call: $0.15 each
        try:
            ask(stolen, "token_explosion", f"attacker-{i}")
        except openai.RateLimitError as exc:
            stopped = exc
            break
    assert stopped is not None and stopped.code == "budget_exceeded"
    assert int(stopped.response.headers["retry-after"]) > 0

    inc = wait_incident(fl, lambda i: key_id in i["scope"]["keys"])
    assert (inc["type"], inc["severity"]) == ("cost_runaway", "P1")
    # from the refused request's answer (it is logged too), on the server's clock
    refused = stored(fl, stopped.response.headers["x-fireline-call-id"])
    assert since_answered(inc["detected_at"], refused) <= timedelta(seconds=1)
    assert inc["scope"]["scope_by"] == ["key"]

    # Other keys keep their own budget.
    assert other.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers).parse().choices

    with fl.client("responder") as http:
        done = http.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
        assert done.status_code == 201, done.text
        assert done.json()["revoked_keys"] == [key_id]
        entries = http.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["entries"]
        assert any(e["kind"] == "key_revoked" and e["data"]["key_id"] == key_id for e in entries)
    with pytest.raises(openai.AuthenticationError):
        ask(stolen, "normal", "attacker-x")
