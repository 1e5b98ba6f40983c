"""The scriptable upstream on its own: modes, scripting by rule and header, usage echoed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from fireline.simulator.script import PII_TEXT, REFUSAL_TEXT
from fireline.simulator.upstream import UpstreamServer


@pytest.fixture
def sim() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


def test_rules_match_user_and_app_and_run_out(sim: UpstreamServer) -> None:
    c = openai.OpenAI(base_url=sim.base_url, api_key="upstream-key", max_retries=0)
    r = httpx.post(sim.url + "/_script", json={"mode": "refuse", "match": {"user": "mallory"}, "times": 2})
    assert r.status_code == 200

    def say(user: str, app: str = "bot") -> str | None:
        return c.chat.completions.create(model="m", user=user, messages=[{"role": "user", "content": "hi"}],
                                         extra_headers={"X-Fireline-App": app}).choices[0].message.content

    assert say("alice") != REFUSAL_TEXT
    assert say("mallory") == REFUSAL_TEXT and say("mallory") == REFUSAL_TEXT
    assert say("mallory") != REFUSAL_TEXT  # the rule ran out
    sim.add_rule("leak_pii", match={"app": "hr-bot"})
    assert say("alice", "hr-bot") == PII_TEXT and say("alice") != PII_TEXT
    assert httpx.post(sim.url + "/_script", json={"mode": "nope"}).status_code == 422
    httpx.post(sim.url + "/_reset")
    assert say("alice", "hr-bot") != PII_TEXT
    assert httpx.get(sim.url + "/_requests").json()["requests"][-1]["authorization"] == "Bearer upstream-key"


def test_modes_by_header(sim: UpstreamServer) -> None:
    c = openai.OpenAI(base_url=sim.base_url, api_key="k", max_retries=0)

    def mode(name: str, params: str = "{}") -> openai.types.chat.ChatCompletion:
        return c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                         extra_headers={"X-Upstream-Mode": name, "X-Upstream-Params": params})

    assert mode("token_explosion").usage.completion_tokens == 250_000  # type: ignore[union-attr]
    assert "[kb-404]" in (mode("hallucination", '{"doc_id": "kb-404"}').choices[0].message.content or "")
    assert "TOKEN-9" in (mode("leak_canary", '{"token": "TOKEN-9"}').choices[0].message.content or "")
    with pytest.raises(openai.InternalServerError):
        mode("error")
    stream = c.chat.completions.create(model="m", stream=True, stream_options={"include_usage": True},
                                       messages=[{"role": "user", "content": "hi"}])
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
