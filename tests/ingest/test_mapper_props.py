"""Property: whatever attribute values a span carries, the mapper answers (stored, rejected
with a reason, or skipped) and never fails on the span."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from fireline.ingest import otlp
from tests.ingest.helpers import CONFIG

NANOS = st.integers(0, 2**64 - 1)
KEYS = [
    "openinference.span.kind", "gen_ai.operation.name", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens", "gen_ai.response.finish_reasons", "gen_ai.tool.name", "gen_ai.tool.call.arguments",
    "gen_ai.guardrail.name", "gen_ai.guardrail.0.decision", "gen_ai.retrieval.documents", "llm.model_name",
    "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
    "llm.input_messages.1.message.contents.0.message_content.text", "llm.output_messages.0.message.content",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", "llm.token_count.prompt",
    "llm.invocation_parameters", "retrieval.documents.0.document.score", "retrieval.documents.x.document.id",
    "metadata", "session.id", "user.id", "enduser.id", "llm.prompt_template.version", "input.value", "output.value",
    "gen_ai.prompt.0.content", "gen_ai.completion.0.tool_calls.0.name", "fireline.cost_usd", "tool.name",
]
JSONISH = st.sampled_from(['[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]', "[1, 2]", "{}",
                           '[{"role": null, "parts": "x"}]', '{"messages": 3}', '[{"type": "tool_call"}]', "[",
                           '{"model": ["x"]}', '[{"id": {}, "score": "NaN"}]', "null"])
SCALARS = (st.text(max_size=30) | JSONISH | st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=True, allow_infinity=True) | st.booleans() | st.binary(max_size=8)
           | st.sampled_from(["LLM", "TOOL", "RETRIEVER", "GUARDRAIL", "chat", "execute_tool"]))
VALUES = st.recursive(SCALARS | st.none(), lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["role", "content", "parts", "type", "id", "name"]) | st.text(
                          max_size=5), inner, max_size=3), max_leaves=12)


def _any(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(v) for v in value)
        return out
    out = AnyValue()
    out.kvlist_value.values.extend(KeyValue(key=k, value=_any(v)) for k, v in value.items())
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attrs=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=20), VALUES, max_size=12),
       kind=st.sampled_from(["LLM", "TOOL", "RETRIEVER", "GUARDRAIL", "CHAIN", None]),
       event_attrs=st.dictionaries(st.sampled_from(KEYS) | st.just("content"), VALUES, max_size=3),
       event_name=st.sampled_from(["gen_ai.user.message", "gen_ai.choice", "exception", "guardrail",
                                   "gen_ai.client.inference.operation.details", "gen_ai.content.prompt"]),
       status=st.integers(min_value=0, max_value=2), times=st.tuples(NANOS, NANOS))
def test_arbitrary_attributes_never_break_the_mapper(attrs: dict[str, Any], kind: str | None,
                                                      event_attrs: dict[str, Any], event_name: str, status: int,
                                                      times: tuple[int, int]) -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=_any(attrs.get("service.name", "app")))
    spans = rs.scope_spans.add().spans
    for i, parent in enumerate((b"", b"\x01" * 8)):
        span = spans.add(trace_id=b"\x02" * 16, span_id=bytes([i + 1]) * 8, parent_span_id=parent, name="s",
                         start_time_unix_nano=times[0], end_time_unix_nano=times[1])
        span.status.code = status  # type: ignore[assignment]
        for key, value in attrs.items():
            span.attributes.add(key=key, value=_any(value))
        if kind is not None:
            span.attributes.add(key="openinference.span.kind", value=AnyValue(string_value="LLM" if i == 0 else kind))
        event = span.events.add(name=event_name)
        for key, value in event_attrs.items():
            event.attributes.add(key=key, value=_any(value))
    mapped = otlp.map_request(req, CONFIG)
    assert len(mapped.calls) + mapped.rejected + mapped.skipped <= 2
    assert not [e for e in mapped.errors if "unreadable" in e], mapped.errors
    otlp.encode_response(mapped.rejected, mapped.message(), otlp.JSON)
    for call in mapped.calls:
        call.model_dump_json()
