"""The gateway's Responses, embeddings, legacy completions and model routes with the real openai SDK:
answered, logged like chat, and contained by the same controls."""

from __future__ import annotations

import httpx
import openai
import pytest

from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import APP, FALLBACK, HEADERS, apply, client, logged, revert
from tests.support.fireline import Fireline

NORMAL = "Thanks for reaching out. Your order ships tomorrow and should arrive within two days."
TOOLS = [{"type": "function", "name": n, "description": n, "strict": False,
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}
         for n in ("issue_refund", "lookup_order")]


def respond(c: openai.OpenAI, text: str = "Where is my order?", headers: dict[str, str] | None = None,
            **kw: object) -> object:
    return c.responses.with_raw_response.create(  # type: ignore[call-overload]
        model=kw.pop("model", "gpt-4o-2024-08-06"), instructions="You are a support bot.", input=kw.pop("input", text),
        user="alice@example.com", extra_headers={**HEADERS, **(headers or {})}, **kw)


def test_responses_call_is_answered_and_logged_like_chat(fl: Fireline, upstream: UpstreamServer) -> None:
    raw = respond(client(fl), "My card is 4111 1111 1111 1111, where is order 7?")
    reply = raw.parse()  # type: ignore[attr-defined]
    assert reply.output_text == NORMAL and reply.id.startswith("resp_sim")
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    call = logged(fl, raw.headers["x-fireline-call-id"])  # type: ignore[attr-defined]
    assert (call["app"], call["tenant"], call["session_id"], call["prompt_version"]) == (APP, "acme", "s-1", "v12")
    assert call["user_pseudonym"].startswith("u_") and "alice" not in call["user_pseudonym"]
    assert call["system_prompt"] == "You are a support bot."
    assert call["input"] == [{"role": "user", "content": "My card is 4111 1111 1111 1111, where is order 7?"}]
    assert call["output"] == NORMAL and call["status"] == "ok"
    assert call["model_resolved"] == "gpt-4o-2024-08-06"
    assert (call["input_tokens"], call["output_tokens"]) == (reply.usage.input_tokens, reply.usage.output_tokens)
    assert call["metadata"]["api"] == "responses" and call["metadata"]["response_id"] == reply.id
    assert any(f["detector"] == "pii" and f["location"] == "input" for f in call["findings"])


def test_previous_response_id_is_passed_through(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    first = c.responses.create(model="gpt-4o-mini", input="hi", extra_headers=HEADERS)
    second = c.responses.with_raw_response.create(model="gpt-4o-mini", input="and then?",
                                                  previous_response_id=first.id, extra_headers=HEADERS)
    assert upstream.script.requests[-1]["body"]["previous_response_id"] == first.id
    assert logged(fl, second.headers["x-fireline-call-id"])["metadata"]["previous_response_id"] == first.id
    with pytest.raises(openai.BadRequestError) as bad:  # an app without a fallback hears the upstream's error
        c.responses.create(model="gpt-4o-mini", input="x", previous_response_id="resp_unknown",
                           extra_headers={**HEADERS, "X-Fireline-App": "plain-bot"})
    assert bad.value.code == "previous_response_not_found" and bad.value.param == "previous_response_id"


def test_responses_stream_relays_events_and_logs_the_assembled_answer(fl: Fireline) -> None:
    c = client(fl)
    with c.responses.with_streaming_response.create(model="gpt-4o-mini", input="hi", stream=True,
                                                    extra_headers=HEADERS) as raw:
        call_id = raw.headers["x-fireline-call-id"]
        events = list(raw.parse())
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == NORMAL and len(deltas) > 1
    assert events[-1].type == "response.completed" and events[-1].response.output_text == NORMAL
    call = logged(fl, call_id)
    assert call["output"] == NORMAL and call["metadata"]["stream"] is True and call["output_tokens"] > 0
    with c.responses.stream(model="gpt-4o-mini", input="hi", extra_headers=HEADERS) as stream:  # the SDK's helper
        assert stream.get_final_response().output_text == NORMAL


def test_function_tools_pass_through_and_are_logged_with_their_kind(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    raw = respond(c, "refund order 7", tools=TOOLS,
                  headers={"X-Upstream-Mode": "write_tool", "X-Upstream-Params": '{"tool": "lookup_order"}'})
    item = raw.parse().output[0]  # type: ignore[attr-defined]
    assert (item.type, item.name) == ("function_call", "lookup_order")
    assert [t["name"] for t in upstream.script.requests[-1]["body"]["tools"]] == ["issue_refund", "lookup_order"]
    tool = logged(fl, raw.headers["x-fireline-call-id"])["tool_calls"][0]  # type: ignore[attr-defined]
    assert (tool["name"], tool["kind"], tool["status"]) == ("lookup_order", "read", "proposed")
    # the tool's result goes back as a function_call_output item and is logged as a tool message
    raw = respond(c, "", input=[{"role": "user", "content": "refund order 7"},  # type: ignore[arg-type]
                                {"type": "function_call", "call_id": item.call_id, "name": "lookup_order",
                                 "arguments": item.arguments},
                                {"type": "function_call_output", "call_id": item.call_id, "output": "shipped"}])
    call = logged(fl, raw.headers["x-fireline-call-id"])  # type: ignore[attr-defined]
    assert [m["role"] for m in call["input"]] == ["user", "assistant", "tool"]
    assert call["input"][2]["content"] == "shipped"


def test_kill_switch_contains_a_responses_call_like_a_chat_call(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    control = apply(fl, "kill_switch")
    seen = len(upstream.script.requests)
    raw = respond(c)
    reply = raw.parse()  # type: ignore[attr-defined]
    assert reply.output_text == FALLBACK
    assert raw.headers["x-fireline-contained"] == control  # type: ignore[attr-defined]
    events = list(c.responses.create(model="gpt-4o-mini", input="hi", stream=True, extra_headers=HEADERS))
    assert events[-1].type == "response.completed" and events[-1].response.output_text == FALLBACK
    assert len(upstream.script.requests) == seen  # the upstream was never called
    call = logged(fl, raw.headers["x-fireline-call-id"])  # type: ignore[attr-defined]
    assert call["status"] == "contained" and call["user_visible_output"] == FALLBACK
    assert control in call["metadata"]["controls"]
    # a conversation continued from the fallback goes on without the id the upstream never issued
    revert(fl, control)
    after = c.responses.create(model="gpt-4o-mini", input="still there?", previous_response_id=reply.id,
                               extra_headers=HEADERS)
    assert after.output_text == NORMAL and "previous_response_id" not in upstream.script.requests[-1]["body"]


def test_model_pin_tool_controls_and_guardrails_apply_to_responses(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    apply(fl, "model_pin", model="gpt-4o-2024-05-13")
    disabled = apply(fl, "disable_tool", scope={"tool": "issue_refund"})
    respond(c, tools=TOOLS, tool_choice={"type": "function", "name": "issue_refund"})
    sent = upstream.script.requests[-1]["body"]
    assert sent["model"] == "gpt-4o-2024-05-13"
    assert [t["name"] for t in sent["tools"]] == ["lookup_order"] and sent["tool_choice"] == "auto"
    raw = respond(c, tools=TOOLS, headers={"X-Upstream-Mode": "write_tool",
                                           "X-Upstream-Params": '{"tool": "issue_refund"}'})
    reply = raw.parse()  # type: ignore[attr-defined]
    assert not [o for o in reply.output if o.type == "function_call"] and "issue_refund" in reply.output_text
    call = logged(fl, raw.headers["x-fireline-call-id"])  # type: ignore[attr-defined]
    assert call["tool_calls"][0]["status"] == "refused" and disabled in call["metadata"]["controls"]
    guard = apply(fl, "guardrail_threshold", action="block")
    for stream in (False, True):
        leak = {"X-Upstream-Mode": "leak_pii"}
        if stream:
            events = list(c.responses.create(model="m", input="who?", stream=True, extra_headers={**HEADERS, **leak}))
            text = events[-1].response.output_text
        else:
            text = respond(c, headers=leak).parse().output_text  # type: ignore[attr-defined]
        assert text == FALLBACK and "jane.roe" not in text
    assert guard


def test_rate_limit_answers_429_on_responses(fl: Fireline) -> None:
    apply(fl, "rate_limit", per_minute=1)
    c = client(fl)
    respond(c)
    with pytest.raises(openai.RateLimitError) as limited:
        respond(c)
    assert limited.value.response.headers["retry-after"]


def test_embeddings_are_answered_logged_and_paused_by_a_kill_switch(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    raw = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["refund policy", "shipping"],
                                                user="bob@example.com", extra_headers=HEADERS)
    reply = raw.parse()
    assert len(reply.data) == 2 and len(reply.data[0].embedding) == 8 and reply.usage.prompt_tokens > 0
    call = logged(fl, raw.headers["x-fireline-call-id"])
    assert [m["content"] for m in call["input"]] == ["refund policy", "shipping"] and call["output"] is None
    assert call["input_tokens"] == reply.usage.prompt_tokens and call["metadata"]["api"] == "embeddings"
    assert call["metadata"]["embeddings"] == {"count": 2, "dimensions": 8} and call["user_pseudonym"]
    control = apply(fl, "kill_switch")
    with pytest.raises(openai.APIStatusError) as paused:
        c.embeddings.create(model="text-embedding-3-small", input="x", extra_headers=HEADERS)
    assert paused.value.status_code == 503 and paused.value.code == "contained"
    assert paused.value.response.headers["x-fireline-contained"] == control


def test_legacy_completions_json_and_stream(fl: Fireline) -> None:
    c = client(fl)
    raw = c.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", user="carol",
                                                 extra_headers=HEADERS)
    assert raw.parse().choices[0].text == NORMAL
    call = logged(fl, raw.headers["x-fireline-call-id"])
    assert call["input"] == [{"role": "user", "content": "Say hi"}] and call["output"] == NORMAL
    assert call["output_tokens"] > 0 and call["metadata"]["api"] == "completions"
    pieces = [ch.choices[0].text for ch in c.completions.create(model="m", prompt="hi", stream=True,
                                                                extra_headers=HEADERS) if ch.choices]
    assert "".join(pieces) == NORMAL
    apply(fl, "kill_switch")
    assert c.completions.create(model="m", prompt="hi", extra_headers=HEADERS).choices[0].text == FALLBACK


def test_models_retrieve_and_openai_error_shapes(fl: Fireline) -> None:
    c = client(fl)
    assert c.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError) as missing:
        c.models.retrieve("no-such-model")
    assert missing.value.code == "model_not_found"
    key = {"Authorization": f"Bearer {fl.keys['ingest']}"}
    cases = [("post", "/v1/assistants", key, {}, 404, "unknown_url", None),
             ("get", "/v1/responses", key, None, 405, "method_not_allowed", None),
             ("post", "/v1/responses", {}, {"input": "x"}, 401, "invalid_api_key", None),
             ("post", "/v1/responses", key, {"input": 7}, 400, "invalid_value", "input"),
             ("post", "/v1/embeddings", key, {"model": "e"}, 400, "invalid_value", "input"),
             ("post", "/v1/completions", key, {"prompt": "x", "model": 3}, 400, "invalid_value", "model")]
    for method, path, headers, body, status, code, param in cases:
        r = httpx.request(method, fl.url + path, headers=headers, json=body)
        assert r.status_code == status, (path, r.text)
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and (err["code"], err["param"]) == (code, param)
    assert httpx.post(fl.url + "/v1/responses", headers=key, content=b"{").json()["error"]["message"]


def test_a_token_budget_counts_responses_calls_and_stops_the_next(fl: Fireline) -> None:
    apply(fl, "budget", tokens=1000, per="hour", key="user")
    c = client(fl)
    over = respond(c, headers={"X-Upstream-Mode": "token_explosion", "X-Upstream-Params": '{"tokens": 5000}'})
    call = logged(fl, over.headers["x-fireline-call-id"])  # type: ignore[attr-defined]
    assert call["output_tokens"] == 5000 and call["metadata"]["budget"]["unit"] == "tokens"
    with pytest.raises(openai.RateLimitError) as stopped:
        respond(c)
    assert stopped.value.code == "budget_exceeded"
    other = c.responses.create(model="gpt-4o-mini", input="hi", user="someone-else", extra_headers=HEADERS)
    assert other.output_text == NORMAL  # a budget per user: another user is not stopped


def test_stored_responses_are_passed_through(fl: Fireline, upstream: UpstreamServer) -> None:
    c = client(fl)
    made = c.responses.create(model="gpt-4o-mini", input="hello there", extra_headers=HEADERS)
    assert c.responses.retrieve(made.id).output_text == NORMAL
    items = c.responses.input_items.list(made.id)
    assert items.data[0].content[0].text == "hello there"  # type: ignore[union-attr]
    c.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as gone:
        c.responses.retrieve(made.id)
    assert "No response found" in gone.value.message
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=fl.url + "/v1", api_key="wrong", max_retries=0).responses.retrieve(made.id)
