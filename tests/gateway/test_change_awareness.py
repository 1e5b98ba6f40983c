"""The gateway logs what change awareness and cohort monitors need: the cohort and route headers,
the tool definitions offered (hashed per call) and the upstream's system fingerprint."""

from __future__ import annotations

from typing import Any

from fireline.db import Database
from tests.gateway.conftest import ask, client, wait_rows
from tests.support.fireline import Fireline

TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Look an order up by its number.",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}}}]


def test_gateway_logs_cohort_route_tool_definitions_and_fingerprint(fl: Fireline, db: Database) -> None:
    raw = ask(client(fl), headers={"X-Fireline-Cohort": "B", "X-Fireline-Route": "/loans/apply",
                                   "X-Fireline-Environment": "eval"}, tools=TOOLS)
    call_id = raw.headers["x-fireline-call-id"]
    assert wait_rows(db, 1) == 1
    with fl.client("responder") as http:
        got = http.get(f"/api/v1/calls/{call_id}").json()
    meta = got["metadata"]
    assert got["environment"] == "eval"  # eval traffic: logged, left out of the monitors
    assert (meta["cohort"], meta["route"]) == ("B", "/loans/apply")
    assert meta["tools"][0]["function"]["description"] == "Look an order up by its number."
    assert len(meta["tools_sha256"]) == 64
    assert meta["system_fingerprint"] == "fp_fireline_sim"
