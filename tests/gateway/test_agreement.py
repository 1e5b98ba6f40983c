"""The three ways a control reaches an app agree: the gateway's behaviour, the OFREP flags an
OpenFeature client reads, and the in-memory Guard SDK."""

from __future__ import annotations

from typing import Any

from fireline.guard import Guard
from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import APP, FALLBACK, apply, ask, client, revert
from tests.support.fireline import Fireline


def ofrep(fl: Fireline, flag: str, user: str = "alice@example.com") -> Any:
    with fl.client("ingest") as http:
        r = http.post(f"/ofrep/v1/evaluate/flags/fireline.{APP}.{flag}",
                      json={"context": {"targetingKey": user, "tenant": "acme"}})
        assert r.status_code == 200, r.text
        return r.json()["value"]


def test_gateway_ofrep_and_guard_agree_through_apply_and_revert(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    guard = Guard(fl.url, fl.keys["ingest"], APP)
    try:
        assert guard.wait_ready(10)

        def agree(enabled: bool, model: str, write_tool: bool) -> None:
            raw = ask(c, tools=[{"type": "function", "function": {"name": "issue_refund",
                                                                   "parameters": {"type": "object"}}}])
            served_fallback = raw.parse().choices[0].message.content == FALLBACK
            assert served_fallback is (not enabled)
            assert ofrep(fl, "enabled") is enabled
            assert guard.enabled(user="alice@example.com", tenant="acme") is enabled
            if enabled:
                sent = upstream.script.requests[-1]["body"]
                assert sent["model"] == model
                offered = [t["function"]["name"] for t in sent.get("tools") or []]
                assert ("issue_refund" in offered) is write_tool
            assert ofrep(fl, "model") == model
            assert guard.model(user="alice@example.com", tenant="acme") == model
            assert ofrep(fl, "tool.issue_refund.enabled") is write_tool
            assert guard.tool_allowed("issue_refund", user="alice@example.com", tenant="acme") is write_tool
            assert ofrep(fl, "read_only") is (not write_tool)
            assert guard.read_only(user="alice@example.com", tenant="acme") is (not write_tool)

        agree(True, "gpt-4o-2024-08-06", True)
        pin = apply(fl, "model_pin", model="gpt-4o-2024-05-13")
        ro = apply(fl, "read_only")
        guard.wait_for(lambda s: s.revision >= 2, 5)
        agree(True, "gpt-4o-2024-05-13", False)
        kill = apply(fl, "kill_switch")
        guard.wait_for(lambda s: s.revision >= 3, 5)
        agree(False, "gpt-4o-2024-05-13", False)
        for control in (kill, ro, pin):
            revert(fl, control)
        guard.wait_for(lambda s: s.revision >= 6, 5)
        agree(True, "gpt-4o-2024-08-06", True)
    finally:
        guard.close()
