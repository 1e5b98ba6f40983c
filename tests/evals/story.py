"""The after-action story on loopback: the demo's leak (another tenant's canary in answers from
the current model version), detected and auto-contained, with the simulator scripted so the
previous model version is the fix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from fireline.calls.models import Call
from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.support.fireline import Fireline, running

APP = "support-bot"
CANARY = "CANARY-globex-7f3a9c2e41"
FAULTY, FIXED = "gpt-4o-2024-08-06", "gpt-4o-2024-05-13"
PROMPTS = {"v12": "You are ACME's friendly support assistant.", "v11": "You are a support assistant."}
CONFIG: dict[str, Any] = {
    "apps": {APP: {"fallback": "Paused.", "models": [FAULTY, FIXED, "gpt-4o-mini"], "prompts": PROMPTS,
                   "tools": {"lookup_order": "read", "issue_refund": "write"}}},
    "pricing": {"gpt-4o": {"input": 2.5, "output": 10.0}},
}
QUESTIONS = ["Where is my order?", "How do I reset my password?", "Can I change my delivery address?"]


@dataclass
class Story:
    fl: Fireline
    upstream: UpstreamServer
    api: httpx.Client
    incident: dict[str, Any]


def stored_calls(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Call)) or 0)


def ask(gw: httpx.Client, question: str, user: str, model: str = FAULTY, tenant: str = "acme") -> httpx.Response:
    return gw.post("/v1/chat/completions", json={
        "model": model, "user": user,
        "messages": [{"role": "system", "content": PROMPTS["v12"]}, {"role": "user", "content": question}]},
        headers={"X-Fireline-App": APP, "X-Fireline-Tenant": tenant, "X-Fireline-Prompt-Version": "v12"})


def wait(fn: Any, timeout: float = 20.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


@contextmanager
def leak_story(db: Database, extra: dict[str, Any] | None = None) -> Iterator[Story]:
    with UpstreamServer() as up:
        up.add_rule("leak_canary", {"token": f"{CANARY}; billing contact mary.roe@globex.example"},
                    match={"model": FAULTY})
        config = Config.model_validate({**CONFIG, **(extra or {})})
        with running(db, config, upstream_url=up.base_url) as fl, fl.client("admin") as api, \
                httpx.Client(base_url=fl.url, timeout=10,
                             headers={"Authorization": f"Bearer {fl.keys['ingest']}"}) as gw:
            api.post("/api/v1/canaries", json={"tenant": "globex", "token": CANARY}).raise_for_status()
            for i, q in enumerate(QUESTIONS * 2):
                assert ask(gw, q, f"user{i}@acme.example").status_code == 200

            def leak_incident() -> dict[str, Any] | None:  # the canary one: P0, auto-contained
                rows = api.get("/api/v1/incidents").json()["incidents"]
                return next((r for r in rows if r["type"] == "data_leakage" and r["severity"] == "P0"
                             and r["state"] == "contained" and r["linked_calls"]
                             and str(r["dedup_key"]).startswith("monitor:canary_leak")), None)

            incident = wait(leak_incident)
            # The incident opens on the first leaked answers; the gateway may still be storing the
            # rest. Every asked call is stored before the story starts, so tests can count calls.
            asked = len(QUESTIONS) * 2
            wait(lambda: stored_calls(db) >= asked)
            yield Story(fl, up, api, incident)


def finished(api: httpx.Client, incident_id: str, replay_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = api.get(f"/api/v1/incidents/{incident_id}/replays/{replay_id}").json()
        return job if job["state"] not in ("queued", "running") else None
    return wait(done, timeout=60)
