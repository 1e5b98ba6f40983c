"""Hypothesis over the gateway's wire parsers (Responses, completions) and the OTLP logs decoder:
never an exception other than a named 400, and what is written reads back the same."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.gateway import apis, wire
from fireline.gateway.checks import BadRequest
from fireline.gateway.responses import completion
from fireline.ingest import logs
from fireline.ingest.otlp import JSON, Malformed

SETTINGS = settings(max_examples=150, deadline=None)
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=20)
item = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["message", "function_call", "function_call_output", "reasoning"]) | text,
    "role": st.sampled_from(["user", "assistant", "system", "developer"]) | json_values,
    "content": text | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["input_text", "input_image"])},
                                                     optional={"text": json_values}), max_size=3) | json_values,
    "call_id": text, "name": text, "arguments": text, "output": json_values})
bodies = st.fixed_dictionaries({}, optional={
    "model": text | json_values, "instructions": text | json_values, "input": text | st.lists(item, max_size=4)
    | json_values, "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "name": text}), max_size=3)
    | json_values, "user": text, "stream": st.booleans(), "previous_response_id": text | json_values})


@SETTINGS
@given(bodies)
def test_any_responses_body_is_refused_by_name_or_viewed_and_written_back(body: dict[str, Any]) -> None:
    try:
        apis.check_responses(body)
    except BadRequest as bad:
        assert bad.param and bad.message.startswith(bad.param)
        return
    view, origins = wire.response_view(body)
    assert all(isinstance(m.get("role"), str) for m in view["messages"])
    wire.response_apply(body, view, origins, [m.get("content") for m, _ in origins], {})
    orjson.dumps(body)


calls = st.lists(st.fixed_dictionaries({"id": st.text("abc123_", min_size=1, max_size=8), "name": text,
                                        "arguments": text}), max_size=3, unique_by=lambda c: c["id"])


@SETTINGS
@given(text, calls, st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_responses_object_survives_its_own_event_stream(content: str, tools: list[dict[str, str]], i: int,
                                                          o: int) -> None:
    comp = completion(content, "m", [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}} for c in tools]
                      or None, usage={"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o})
    obj = wire.response_object(comp, {"model": "m"})
    again = wire.response_comp(wire.response_assemble(wire.response_sse(obj)))
    assert again["choices"][0]["message"].get("content") == content
    assert again["choices"][0]["message"].get("tool_calls", []) == comp["choices"][0]["message"].get("tool_calls", [])
    assert (again["usage"]["prompt_tokens"], again["usage"]["completion_tokens"]) == (i, o)
    legacy = wire.completions_object(comp, {"model": "m"})
    assert wire.completions_assemble(wire.completions_sse(legacy))["choices"][0]["text"] == content


@SETTINGS
@given(st.binary(max_size=300) | st.lists(text, max_size=6).map(lambda ls: "\n".join(ls).encode()))
def test_any_bytes_assemble_to_an_object(raw: bytes) -> None:
    assert isinstance(wire.response_assemble(raw), dict)
    assert isinstance(wire.completions_assemble(raw), dict)


record = st.fixed_dictionaries({}, optional={
    "eventName": st.sampled_from(["gen_ai.user.message", "gen_ai.choice", "other"]) | text,
    "traceId": st.sampled_from(["0" * 32, "ab" * 16, "zz", ""]), "spanId": st.sampled_from(["cd" * 8, "0" * 16, "x"]),
    "body": st.fixed_dictionaries({"stringValue": text}) | json_values,
    "attributes": st.lists(st.fixed_dictionaries({"key": text, "value": st.fixed_dictionaries(
        {"stringValue": text})}), max_size=3) | json_values})


@SETTINGS
@given(st.fixed_dictionaries({"resourceLogs": st.lists(st.fixed_dictionaries({"scopeLogs": st.lists(
    st.fixed_dictionaries({"logRecords": st.lists(record, max_size=4)}), max_size=2)}), max_size=2)}) | json_values)
def test_any_logs_export_is_mapped_or_refused_as_malformed(body: Any) -> None:
    try:
        req = logs.decode_logs(orjson.dumps(body), JSON)
    except Malformed:
        return
    grouped, out = logs.map_logs(req)
    assert out.events == sum(len(v) for v in grouped.values())
    assert all(cid.startswith("otlp-") for cid in grouped)
