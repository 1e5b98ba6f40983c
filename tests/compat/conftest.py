"""The compatibility suite: real client packages, unchanged, against a real Fireline.

Gateway clients (openai, langchain-openai) call Fireline's gateway in front of the simulated
upstream; instrumentation packages (opentelemetry-instrumentation-openai-v2,
openinference-instrumentation-openai, opentelemetry-instrumentation-openai) instrument an openai
client that calls the simulator directly and export to Fireline's OTLP endpoints. Every test
asserts the same complete call record.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fireline.calls import privacy
from fireline.config import Config
from fireline.db import Database
from fireline.simulator.script import NORMAL_TEXT
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

APP = "compat-app"
CONFIG = Config.model_validate({"apps": {APP: {}}, "auto_contain": {}})


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


@pytest.fixture(autouse=True)
def openai_sdk_restored() -> Iterator[None]:
    """Instrumentations patch the openai SDK's resource classes in place, and not every one undoes all
    of it on uninstrument (OpenLLMetry 0.62.4 leaves the legacy completions stream wrapped, which then
    yields nothing in later tests): every attribute of those classes is put back after each test."""
    import openai.resources

    saved: list[tuple[type, dict[str, Any]]] = []
    for info in pkgutil.walk_packages(openai.resources.__path__, "openai.resources."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                saved.append((cls, dict(vars(cls))))
    yield
    for cls, attrs in saved:
        for name, value in attrs.items():
            if name != "__dict__" and vars(cls).get(name) is not value:
                setattr(cls, name, value)


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, CONFIG, upstream_url=upstream.base_url) as server:
        yield server


def stored(fl: Fireline, *, call_id: str | None = None, user: str | None = None, timeout: float = 15.0,
           want: str = "output") -> dict[str, Any]:
    """The stored call (raw, as a responder reads it): by id, or the newest of `user`."""
    deadline = time.monotonic() + timeout
    with fl.client("responder") as http:
        while True:
            if call_id is None:
                page = http.get("/api/v1/calls", params={"user": user, "limit": 1}).json()["calls"]
                cid = page[0]["id"] if page else None
            else:
                cid = call_id
            if cid is not None:
                r = http.get(f"/api/v1/calls/{cid}", params={"raw": "true", "reason": "compat test"})
                if r.status_code == 200 and (r.json().get(want) or time.monotonic() > deadline):
                    return dict(r.json())
            assert time.monotonic() < deadline, f"no complete call stored for {call_id or user}"
            time.sleep(0.05)


def assert_complete(call: dict[str, Any], *, user: str, session: str, text: str = "Where is my order?",
                    output: str = NORMAL_TEXT, app: str = APP) -> None:
    """The fields every client must store, as the gateway path stores them."""
    assert call["app"] == app
    assert any(text in str(m.get("content")) for m in call["input"]), call["input"]
    assert call["output"] == output
    assert call["model"] and (call["model_resolved"] or "").startswith("gpt-4o-mini")
    assert call["input_tokens"] and call["output_tokens"]
    assert call["cost_usd"] and call["cost_usd"] > 0  # priced from the shipped price list
    assert call["user_pseudonym"] == privacy.pseudonym(user)
    assert call["session_id"] == session
