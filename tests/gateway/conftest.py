"""A real Fireline (gateway included) in front of the scriptable upstream, on each database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from fireline.calls.models import Call
from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

APP = "support-bot"
FALLBACK = "Support is paused; a person will reply shortly."
PROMPTS = {"v12": "You are ACME support. Be brief.", "v11": "You are ACME support (v11). Never issue refunds."}
CONFIG: dict[str, Any] = {
    "apps": {APP: {"fallback": FALLBACK, "models": ["gpt-4o-2024-08-06", "gpt-4o-2024-05-13", "gpt-4o-mini"],
                   "prompts": PROMPTS, "tools": {"issue_refund": "write", "lookup_order": "read"}},
             "plain-bot": {}},
    "gateway": {"timeout_s": 0.5},
    "auto_contain": {},  # controls here are applied by hand; auto-containment is tested in tests/controls
}
TOOLS = [{"type": "function", "function": {"name": n, "description": n, "parameters": {"type": "object",
          "properties": {"order_id": {"type": "string"}}}}} for n in ("issue_refund", "lookup_order")]
HEADERS = {"X-Fireline-App": APP, "X-Fireline-Tenant": "acme", "X-Fireline-Session": "s-1",
           "X-Fireline-Prompt-Version": "v12"}


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as server:
        yield server


@pytest.fixture
def fl_helper(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    """As `fl`, with the production default the other tests leave out (tests.support.fireline.running):
    the writer prepares calls in a helper process."""
    upstream.reset()
    config = Config.model_validate({**CONFIG, "gateway": {**CONFIG["gateway"], "prepare_process": True}})
    with running(db, config, upstream_url=upstream.base_url) as server:
        yield server


def client(fl: Fireline, role: str = "ingest") -> openai.OpenAI:
    return openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys[role], max_retries=0, timeout=10)


def aclient(fl: Fireline, role: str = "ingest") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fl.url + "/v1", api_key=fl.keys[role], max_retries=0, timeout=30)


def ask(c: openai.OpenAI, text: str = "Where is my order?", *, user: str = "alice@example.com",
        headers: dict[str, str] | None = None, **kw: Any) -> Any:
    """One call as the support app makes it; answers the raw response (headers + parsed body)."""
    return c.chat.completions.with_raw_response.create(
        model=kw.pop("model", "gpt-4o-2024-08-06"), user=user,
        messages=[{"role": "system", "content": "You are a support bot."}, {"role": "user", "content": text}],
        extra_headers={**HEADERS, **(headers or {})}, **kw)


def rows(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Call)) or 0)


def wait_rows(db: Database, n: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while (count := rows(db)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


def logged(fl: Fireline, call_id: str) -> dict[str, Any]:
    """The stored call as a responder reads it (raw content), once the writer has stored it."""
    deadline = time.monotonic() + 10
    with fl.client("responder") as http:
        while True:
            r = http.get(f"/api/v1/calls/{call_id}", params={"raw": "true", "reason": "test"})
            if r.status_code == 200 or time.monotonic() > deadline:
                assert r.status_code == 200, r.text
                return dict(r.json())
            time.sleep(0.02)


def apply(fl: Fireline, kind: str, scope: dict[str, str] | None = None, role: str = "admin",
          **params: Any) -> str:
    expires = params.pop("expires_at", None)
    with fl.client(role) as http:
        r = http.post("/api/v1/controls", json={"kind": kind, "scope": {"app": APP, **(scope or {})},
                                                "params": params, "reason": "test", "expires_at": expires})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def revert(fl: Fireline, control_id: str) -> None:
    with fl.client("responder") as http:
        r = http.delete(f"/api/v1/controls/{control_id}")
        assert r.status_code == 200, r.text
