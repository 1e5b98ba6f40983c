"""OTLP logs (GenAI events joined to their spans, in either order), metrics, identity and cost,
with the real OpenTelemetry SDK and its OTLP/HTTP exporters."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fireline.calls import privacy
from fireline.db import Database
from tests.ingest.helpers import CONFIG
from tests.support.fireline import Fireline, running

LEAK = "Sure: jane.roe@example.com, card 4111 1111 1111 1111."


def _call(fl: Fireline, call_id: str, want: str = "output", timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with fl.client("responder") as http:
        while True:
            r = http.get(f"/api/v1/calls/{call_id}", params={"raw": "true", "reason": "test"})
            if r.status_code == 200 and (r.json().get(want) or time.monotonic() > deadline):
                return dict(r.json())
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)


def _chat_with_events(fl: Fireline, spans_first: bool) -> str:
    """A chat span without content, its content as GenAI events (log records) in its context,
    exported in the order asked: the way openai-v2 sends it with content capture `event_only`."""
    resource = Resource.create({"service.name": "support-bot"})
    key = {"X-Fireline-Key": fl.keys["ingest"]}
    spans_out = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans_out))
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{fl.url}/v1/logs",
                                                                           headers=key)))
    logger = logs.get_logger("openai-v2")
    tracer = tracer_provider.get_tracer("t")
    span_exporter = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers=key)
    if spans_first:
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                 "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                                 "enduser.id": "carol@example.com", "session.id": "s-9"})
        assert span_exporter.export(spans_out.get_finished_spans()).name == "SUCCESS"
        ctx = span.get_span_context()
        emit = _emitter(logger, trace_id=ctx.trace_id, span_id=ctx.span_id, trace_flags=ctx.trace_flags)
        emit()
    else:
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                 "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                                 "enduser.id": "carol@example.com", "session.id": "s-9"})
            _emitter(logger)()  # inside the span: the SDK stamps its trace and span ids
        assert span_exporter.export(spans_out.get_finished_spans()).name == "SUCCESS"
    logs.shutdown()
    ctx = span.get_span_context()
    return f"otlp-{ctx.trace_id:032x}-{ctx.span_id:016x}"


def _emitter(logger: Any, **ids: Any) -> Any:
    def emit() -> None:
        logger.emit(LogRecord(event_name="gen_ai.system.message", body={"content": "You are support."}, **ids))
        logger.emit(LogRecord(event_name="gen_ai.user.message", body={"content": "What is Jane's e-mail?"}, **ids))
        logger.emit(LogRecord(event_name="gen_ai.choice", body={
            "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": LEAK}}, **ids))
    return emit


@pytest.mark.parametrize("spans_first", [False, True], ids=["logs-first", "spans-first"])
def test_genai_events_from_logs_join_their_span_in_either_order(db: Database, spans_first: bool) -> None:
    with running(db, CONFIG) as fl:
        call_id = _chat_with_events(fl, spans_first)
        call = _call(fl, call_id)
        assert call["input"] == [{"role": "user", "content": "What is Jane's e-mail?"}]
        assert call["system_prompt"] == "You are support." and call["output"] == LEAK
        assert call["user_pseudonym"] == privacy.pseudonym("carol@example.com") and call["session_id"] == "s-9"
        assert call["cost_usd"] == pytest.approx((1000 * 2.5 + 500 * 10) / 1e6)  # the shipped gpt-4o price
        assert {f["location"] for f in call["findings"] if f["detector"] == "pii"} >= {"output"}
        assert "content_captured" not in call["metadata"]
        with fl.client("viewer") as http:  # the viewer's copy is redacted like any call's
            assert "jane.roe@example.com" not in http.get(f"/api/v1/calls/{call_id}").text


def test_logs_endpoint_rejects_events_without_span_ids_and_ignores_other_logs(db: Database) -> None:
    body = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [
        {"eventName": "gen_ai.user.message", "body": {"kvlistValue": {"values": [
            {"key": "content", "value": {"stringValue": "hi"}}]}}},
        {"body": {"stringValue": "GET /health 200"}},
    ]}]}]}
    with running(db, CONFIG) as fl:
        r = httpx.post(f"{fl.url}/v1/logs", content=orjson.dumps(body),
                       headers={"Content-Type": "application/json", "X-Fireline-Key": fl.keys["ingest"]})
        assert r.status_code == 200, r.text
        partial = r.json()["partialSuccess"]
        assert partial["rejectedLogRecords"] == "1" and "span_id" in partial["errorMessage"]
        bad = httpx.post(f"{fl.url}/v1/logs", content=b"{", headers={"Content-Type": "application/json",
                                                                      "X-Fireline-Key": fl.keys["ingest"]})
        assert bad.status_code == 400 and "JSON" in bad.json()["message"]
        assert httpx.post(f"{fl.url}/v1/metrics", content=b"{}", headers={
            "Content-Type": "application/json"}).status_code == 401


def test_genai_client_metrics_are_acknowledged_and_counted(db: Database) -> None:
    with running(db, CONFIG) as fl:
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(
            endpoint=f"{fl.url}/v1/metrics", headers={"X-Fireline-Key": fl.keys["ingest"]}),
            export_interval_millis=60_000)
        app = f"metrics-app-{uuid.uuid4().hex[:8]}"  # the Prometheus registry lives as long as the process
        meters = MeterProvider(resource=Resource.create({"service.name": app}), metric_readers=[reader])
        usage = meters.get_meter("genai").create_histogram("gen_ai.client.token.usage", unit="{token}")
        for tokens in (100, 50):
            usage.record(tokens, {"gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4o-mini"})
        assert meters.force_flush(10_000)
        usage.record(25, {"gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4o-mini"})
        assert meters.force_flush(10_000)  # cumulative again: only the increase is counted
        meters.shutdown()
        text = httpx.get(f"{fl.url}/metrics").text
        line = next(ln for ln in text.splitlines() if ln.startswith("fireline_otlp_genai_tokens_total{")
                    and f'app="{app}"' in ln)
        assert float(line.rsplit(" ", 1)[1]) == 175


def test_identity_from_traceloop_and_phoenix_is_pseudonymised_priced_and_erasable(db: Database) -> None:
    tl = "traceloop.association.properties."
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": "kb-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("openai.chat") as span:
        span.set_attributes({"llm.request.type": "chat", "gen_ai.system": "openai",
                             "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.prompt_tokens": 2000,
                             "gen_ai.usage.completion_tokens": 1000, "gen_ai.prompt.0.role": "user",
                             "gen_ai.prompt.0.content": "hello", "gen_ai.completion.0.role": "assistant",
                             "gen_ai.completion.0.content": "hi there", tl + "user_id": "dave@example.com",
                             tl + "session_id": "sess-7", tl + "tenant_id": "globex", tl + "plan": "gold"})
    with running(db, CONFIG) as fl:
        r = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers={"X-Fireline-Key": fl.keys["ingest"]})
        assert r.export(exporter.get_finished_spans()).name == "SUCCESS"
        ctx = span.get_span_context()
        call = _call(fl, f"otlp-{ctx.trace_id:032x}-{ctx.span_id:016x}")
        assert (call["app"], call["tenant"], call["session_id"]) == ("kb-assistant", "globex", "sess-7")
        assert call["user_pseudonym"] == privacy.pseudonym("dave@example.com")
        assert call["cost_usd"] == pytest.approx((2000 * 0.15 + 1000 * 0.6) / 1e6)
        assert "dave@example.com" not in orjson.dumps(call["metadata"]).decode()
        assert call["metadata"][tl + "plan"] == "gold"
        with fl.client("admin") as http:
            erased = http.delete("/api/v1/subjects/dave@example.com")
            assert erased.status_code == 200, erased.text
            assert http.get(f"/api/v1/calls/{call['id']}").status_code == 404


def test_events_whose_span_never_came_expire(db: Database) -> None:
    from fireline.ingest import logs

    trace, span = "ab" * 16, "cd" * 8
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"eventName": "gen_ai.user.message", "traceId": trace, "spanId": span,
         "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "hello"}}]}}}]}]}]}
    with running(db, CONFIG) as fl:
        r = httpx.post(f"{fl.url}/v1/logs", content=orjson.dumps(body),
                       headers={"Content-Type": "application/json", "X-Fireline-Key": fl.keys["ingest"]})
        assert r.status_code == 200 and "partialSuccess" not in r.json()
        assert logs.any_waiting(db)
        assert logs.purge_expired(db, ttl_s=3600) == 0  # young: kept
        assert logs.purge_expired(db, ttl_s=0) == 1 and not logs.any_waiting(db)
