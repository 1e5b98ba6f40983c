"""The gateway with the real openai SDK: sync, async, streaming, tools, errors, the call log."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from fireline.calls.search import CallFilter, count
from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import APP, CONFIG, FALLBACK, HEADERS, TOOLS, aclient, ask, client, logged, rows, wait_rows
from tests.support.fireline import Fireline, running

NORMAL = "Thanks for reaching out. Your order ships tomorrow and should arrive within two days."


def test_sync_call_is_answered_and_logged_with_attribution(fl: Fireline) -> None:
    raw = ask(client(fl), "My e-mail is bob@example.com, where is order 7?")
    reply = raw.parse()
    assert reply.choices[0].message.content == NORMAL
    assert reply.usage.completion_tokens > 0
    assert raw.headers.get("x-fireline-contained") is None
    call = logged(fl, raw.headers["x-fireline-call-id"])
    assert (call["app"], call["tenant"], call["session_id"], call["prompt_version"]) == (APP, "acme", "s-1", "v12")
    assert call["user_pseudonym"].startswith("u_") and "alice" not in call["user_pseudonym"]
    assert call["system_prompt"] == "You are a support bot."
    assert call["input"] == [{"role": "user", "content": "My e-mail is bob@example.com, where is order 7?"}]
    assert call["output"] == NORMAL and call["status"] == "ok"
    assert call["model"] == call["model_resolved"] == "gpt-4o-2024-08-06"
    assert call["input_tokens"] == reply.usage.prompt_tokens and call["latency_ms"] > 0
    assert any(f["entity"] == "EMAIL_ADDRESS" or f["kind"] == "EMAIL_ADDRESS" for f in call["findings"]) \
        or call["findings"] == []  # detectors run at ingest when the detect part registers them


def test_async_streaming_relays_every_chunk_and_logs_the_assembled_answer(fl: Fireline) -> None:
    async def go() -> tuple[list[str], str | None, str]:
        c = aclient(fl)
        raw = await c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "hi"}],
            extra_headers=HEADERS)
        pieces, finish = [], None
        async for chunk in raw.parse():  # type: ignore[attr-defined]
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        return pieces, finish, raw.headers["x-fireline-call-id"]

    pieces, finish, call_id = asyncio.run(go())
    assert "".join(pieces) == NORMAL and len(pieces) > 3 and finish == "stop"
    call = logged(fl, call_id)
    assert call["output"] == NORMAL and call["metadata"]["stream"] is True and call["output_tokens"] > 0


def test_tools_and_tool_calls_pass_through_in_json_and_stream(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    params = '{"tool": "lookup_order", "arguments": {"order_id": "7"}}'
    raw = ask(c, tools=TOOLS, headers={"X-Upstream-Mode": "write_tool", "X-Upstream-Params": params})
    call = raw.parse().choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("lookup_order", '{"order_id":"7"}')
    assert [t["function"]["name"] for t in upstream.script.requests[-1]["body"]["tools"]] == \
        ["issue_refund", "lookup_order"]
    stream = c.chat.completions.create(model="m", stream=True, tools=TOOLS,  # type: ignore[call-overload]
                                       messages=[{"role": "user", "content": "refund"}],
                                       extra_headers={**HEADERS, "X-Upstream-Mode": "write_tool"})
    args, names = "", ""
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            names += tc.function.name or ""
            args += tc.function.arguments or ""
    assert names == "issue_refund" and args == '{"order_id":"A-1001","amount":500}'
    logged_tool = logged(fl, raw.headers["x-fireline-call-id"])["tool_calls"][0]
    assert (logged_tool["name"], logged_tool["kind"], logged_tool["arguments"]) == \
        ("lookup_order", "read", {"order_id": "7"})


def test_models_list_and_authentication(fl: Fireline) -> None:
    assert [m.id for m in client(fl).models.list()][:1] == ["gpt-4o-2024-08-06"]
    bad = openai.OpenAI(base_url=fl.url + "/v1", api_key="not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    r = httpx.post(fl.url + "/v1/chat/completions", content=b"{nope",
                   headers={"Authorization": f"Bearer {fl.keys['ingest']}"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_upstream_errors_become_openai_errors_and_are_logged(fl: Fireline) -> None:
    c = client(fl)
    with pytest.raises(openai.InternalServerError) as err:
        ask(c, headers={"X-Fireline-App": "plain-bot", "X-Upstream-Mode": "error"})
    assert err.value.status_code == 500
    with pytest.raises(openai.RateLimitError) as rl:
        ask(c, headers={"X-Fireline-App": "plain-bot", "X-Upstream-Mode": "error",
                        "X-Upstream-Params": '{"status": 429, "retry_after": 7}'})
    assert rl.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.APIStatusError) as slow:
        ask(c, headers={"X-Fireline-App": "plain-bot", "X-Upstream-Mode": "slow",
                        "X-Upstream-Params": '{"delay_ms": 1500}'})
    assert slow.value.status_code == 504
    # An app with an explicit fallback serves it when the upstream fails.
    raw = ask(c, headers={"X-Upstream-Mode": "error"})
    assert raw.parse().choices[0].message.content == FALLBACK
    assert raw.headers["x-fireline-fallback"] == "upstream-error"
    wait_rows(fl.db, 4)
    with fl.db.session() as s:
        assert count(s, CallFilter(status="error")) == 4


def test_unreachable_upstream_is_502(db: Database) -> None:
    with running(db, Config.model_validate(CONFIG), upstream_url="http://127.0.0.1:9/v1") as fl:
        with pytest.raises(openai.APIStatusError) as err:
            ask(client(fl), headers={"X-Fireline-App": "plain-bot"})
        assert err.value.status_code == 502
        assert err.value.body["code"] == "upstream_error"  # type: ignore[index]


def test_every_call_is_logged_under_200_concurrent_requests(fl: Fireline) -> None:
    async def go() -> int:
        c = aclient(fl)

        async def one(i: int) -> int:
            if i % 2:
                stream = await c.chat.completions.create(model="m", stream=True, user=f"u{i}",
                                                         messages=[{"role": "user", "content": f"q{i}"}],
                                                         extra_headers=HEADERS)
                text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
            else:
                r = await c.chat.completions.create(model="m", user=f"u{i}", extra_headers=HEADERS,
                                                    messages=[{"role": "user", "content": f"q{i}"}])
                text = r.choices[0].message.content or ""
            return int(text == NORMAL)

        return sum(await asyncio.gather(*(one(i) for i in range(200))))

    assert asyncio.run(go()) == 200
    assert wait_rows(fl.db, 200) == 200


def test_accepted_calls_are_stored_before_shutdown_completes(db: Database, upstream: UpstreamServer) -> None:
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as fl:
        c = client(fl)
        for i in range(30):
            ask(c, f"question {i}")
    assert rows(db) == 30  # no waiting: shutdown drained the writer
