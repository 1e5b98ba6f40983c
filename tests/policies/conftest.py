"""A real Fireline with declared policies, in front of the scriptable upstream, on each database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import openai
import orjson
import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

DEALER_FALLBACK = "A sales associate will follow up with you shortly."
POLICIES: list[dict[str, Any]] = [
    {"name": "no-competitors", "app": "dealer-bot", "target": "output", "deny_terms": ["Ford", "Tesla", "Toyota"],
     "type": "policy_bypass", "severity": "P1", "action": "block"},
    {"name": "no-price-commitments", "app": "dealer-bot", "target": "output",
     "deny_patterns": [r"(?i)legally[\s-]+binding", r"(?i)no\s+takesies", r"(?i)\bfor\s+\$\s*[01](\.00)?\b"],
     "type": "policy_bypass", "severity": "P1", "action": "block"},
    {"name": "no-destructive-sql", "app": "code-agent", "target": "tool_arguments", "tool": "run_sql",
     "deny_patterns": [r"(?i)\b(drop|truncate|delete)\b"], "type": "agentic_harm", "severity": "P0",
     "action": "block"},
    {"name": "mail-egress", "app": "mail-agent", "target": "tool_arguments", "tool": "send_email", "argument": "to",
     "allow_patterns": [r"@acme\.example$"], "type": "data_leakage", "severity": "P0", "action": "block"},
    {"name": "discount-cap", "app": "vend-agent", "target": "tool_arguments", "tool": "issue_discount",
     "argument": "percent", "max": 15, "type": "agentic_harm", "severity": "P1", "action": "flag"},
    {"name": "codename", "app": "notes-bot", "target": "output", "deny_terms": ["Project Nightingale"],
     "type": "data_leakage", "severity": "P3", "action": "redact"},
    {"name": "note-secrets", "app": "notes-bot", "target": "tool_arguments", "tool": "save_note",
     "deny_patterns": [r"\bACCT-\d{6}\b"], "type": "data_leakage", "severity": "P3", "action": "redact"},
    {"name": "no-exploits", "app": "notes-bot", "target": "input", "deny_patterns": [r"(?i)ignore (all|previous)"],
     "type": "prompt_injection", "severity": "P3", "action": "block"},
]
CONFIG: dict[str, Any] = {
    "apps": {
        "dealer-bot": {"fallback": DEALER_FALLBACK, "models": ["gpt-4o-mini"]},
        "code-agent": {"tools": {"run_sql": "write", "read_file": "read"}},
        "mail-agent": {"tools": {"send_email": "write", "lookup_customer": "read"}},
        "vend-agent": {"tools": {"issue_discount": "write"}},
        "notes-bot": {"fallback": "Let me get a colleague.", "tools": {"save_note": "write"}},
    },
    "policies": POLICIES,
    "rule_alerts": {"repeat_s": 0.5},
}


def tool(name: str, **props: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": {k: {"type": v} for k, v in props.items()}}}}


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as server:
        yield server


def client(fl: Fireline, role: str = "ingest", key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=fl.url + "/v1", api_key=key or fl.keys[role], max_retries=0, timeout=10)


def scripted(text: str | None = None, *, tool_name: str | None = None, arguments: dict[str, Any] | None = None,
             **headers: str) -> dict[str, str]:
    """Headers that make the simulator answer with this text or this tool call."""
    if tool_name is not None:
        out = {"X-Upstream-Mode": "write_tool",
               "X-Upstream-Params": orjson.dumps({"tool": tool_name, "arguments": arguments or {}}).decode()}
    else:
        out = {"X-Upstream-Mode": "normal", "X-Upstream-Params": orjson.dumps({"text": text}).decode()}
    return {**out, **headers}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def incidents(fl: Fireline, **params: str) -> list[dict[str, Any]]:
    with fl.client("viewer") as http:
        r = http.get("/api/v1/incidents", params=params)
        assert r.status_code == 200, r.text
        return list(r.json()["incidents"])


def wait_incident(fl: Fireline, match: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The first incident for which match(incident) holds, polling until it opens."""
    deadline = time.monotonic() + timeout
    while True:
        found = [i for i in incidents(fl) if match(i)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no matching incident; open: {[i['title'] for i in incidents(fl)]}"
        time.sleep(0.02)


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def stored(fl: Fireline, call_id: str) -> dict[str, Any]:
    """The call as a responder reads it (raw), once the gateway's writer stored it."""
    def get() -> dict[str, Any] | None:
        with fl.client("responder") as http:
            r = http.get(f"/api/v1/calls/{call_id}", params={"raw": "true", "reason": "test"})
            return dict(r.json()) if r.status_code == 200 else None
    return dict(wait_for(get))
