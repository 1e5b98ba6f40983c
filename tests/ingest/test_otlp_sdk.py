"""The real OpenTelemetry Python SDK and its OTLP/HTTP exporter, pointed at Fireline."""

from __future__ import annotations

import json

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from fireline.db import Database
from tests.ingest.helpers import CONFIG
from tests.support.fireline import running


def _emit(provider: TracerProvider, n: int) -> None:
    """An agent turn per i: invoke_agent > chat (GenAI attributes) + execute_tool, and an HTTP span."""
    tracer = provider.get_tracer("fireline-tests", "1.0")
    for i in range(n):
        with tracer.start_as_current_span("invoke_agent support", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
                chat.set_attributes({
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.usage.input_tokens": 100 + i, "gen_ai.usage.output_tokens": 20,
                    "gen_ai.response.finish_reasons": ["tool_calls"], "gen_ai.conversation.id": f"conv-{i}",
                    "user.id": f"user-{i}", "llm.prompt_template.version": "v7",
                    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                        {"type": "text", "content": f"Where is order {i}?"}]}]),
                    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                        {"type": "tool_call", "id": f"call_{i}", "name": "lookup_order",
                         "arguments": {"order": i}}], "finish_reason": "tool_calls"}]),
                })
                if i == 0:
                    chat.set_status(Status(StatusCode.ERROR, "upstream 500"))
            with tracer.start_as_current_span("execute_tool lookup_order") as tool:
                tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                                     "gen_ai.tool.call.id": f"call_{i}", "gen_ai.tool.call.result": "shipped"})
            with tracer.start_as_current_span("GET /orders", kind=SpanKind.CLIENT) as http_span:
                http_span.set_attribute("http.request.method", "GET")


def test_sdk_exporter_with_key_header_and_gzip_bearer(db: Database) -> None:
    resource = Resource.create({"service.name": "support-bot", "deployment.environment.name": "test"})
    with running(db, CONFIG) as fl:
        # 1. BatchSpanProcessor + OTLPSpanExporter with the X-Fireline-Key header option
        exporter = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers={"X-Fireline-Key": fl.keys["ingest"]})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
        _emit(provider, 5)
        assert provider.force_flush(10_000)
        provider.shutdown()

        with fl.client("responder") as http:
            assert http.get("/api/v1/calls/count", params={"app": "support-bot"}).json()["count"] == 5
            page = http.get("/api/v1/calls", params={"app": "support-bot", "limit": 10}).json()["calls"]
            by_session = {c["session_id"]: c for c in page}
            call = http.get(f"/api/v1/calls/{by_session['conv-3']['id']}").json()
        assert call["environment"] == "test" and call["model_resolved"] == "gpt-4o-2024-08-06"
        assert call["input"] == [{"role": "user", "content": "Where is order 3?"}] and call["output"] == ""
        assert call["prompt_version"] == "v7" and call["input_tokens"] == 103
        [tool] = call["tool_calls"]
        assert (tool["name"], tool["kind"], tool["result"], tool["arguments"]) == ("lookup_order", "read", "shipped",
                                                                                 {"order": 3})
        assert by_session["conv-0"]["status"] == "error"

        # 2. gzip compression and Authorization: Bearer, export result checked directly
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "gz-app"}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        _emit(provider, 3)
        gz = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", compression=Compression.Gzip,
                              headers={"Authorization": f"Bearer {fl.keys['ingest']}"})
        assert gz.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
        bad = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers={"Authorization": "Bearer wrong"})
        assert bad.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
        with fl.client("viewer") as http:
            assert http.get("/api/v1/calls/count", params={"app": "gz-app"}).json()["count"] == 3
