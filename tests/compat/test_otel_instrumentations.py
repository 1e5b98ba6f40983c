"""Instrumentation packages, unchanged, exporting over OTLP/HTTP to Fireline: the app's openai client
calls its provider (the simulator) directly and Fireline stores each call from the telemetry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from opentelemetry import baggage, context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from fireline.simulator.upstream import UpstreamServer
from tests.compat.conftest import APP, assert_complete, stored
from tests.support.fireline import Fireline

# The batch processors as apps run them, but exporting only when the test flushes: no timer decides
# which of the logs and the span arrives first (both orders are flushed on purpose below).
ON_FLUSH = 600_000


def _providers(fl: Fireline, resource: dict[str, str]) -> tuple[TracerProvider, LoggerProvider]:
    key = {"X-Fireline-Key": fl.keys["ingest"]}
    tracer = TracerProvider(resource=Resource.create(resource))
    tracer.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))  # enduser.id etc. from baggage
    tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers=key),
                                                 schedule_delay_millis=ON_FLUSH))
    logs = LoggerProvider(resource=Resource.create(resource))
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{fl.url}/v1/logs",
                                                                          headers=key), schedule_delay_millis=ON_FLUSH))
    return tracer, logs


def _ask(upstream: UpstreamServer) -> str | None:
    c = openai.OpenAI(base_url=upstream.base_url, api_key="sk-provider", max_retries=0, timeout=20)
    out = c.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": "You are support."}, {"role": "user", "content": "Where is my order?"}])
    return out.choices[0].message.content


@pytest.fixture
def genai_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """openai-v2's content setting (read once per process by the semconv stability helper: reset it)."""
    from opentelemetry.instrumentation import _semconv

    mode: str = request.param
    if mode == "true":  # the default conventions: content as gen_ai.*.message / gen_ai.choice events
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    else:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
    stability = _semconv._OpenTelemetrySemanticConventionStability
    monkeypatch.setattr(stability, "_initialized", False)
    monkeypatch.setattr(stability, "_OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING", {})
    stability._initialize()
    yield mode
    monkeypatch.undo()
    stability._initialized = False
    stability._initialize()


@pytest.mark.parametrize("genai_mode", ["true", "span_only", "event_only", "span_and_event"], indirect=True)
def test_opentelemetry_instrumentation_openai_v2(fl: Fireline, upstream: UpstreamServer, genai_mode: str) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    tracer, logs = _providers(fl, {"service.name": APP})
    metrics_app = f"v2-metrics-{genai_mode}-{uuid.uuid4().hex[:6]}"  # its GenAI client metrics, on their own
    meters = MeterProvider(resource=Resource.create({"service.name": metrics_app}), metric_readers=[
        PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{fl.url}/v1/metrics",
                                                         headers={"X-Fireline-Key": fl.keys["ingest"]}),
                                      export_interval_millis=60_000)])
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer, logger_provider=logs, meter_provider=meters)
    user = f"v2-{genai_mode}@example.com"
    token = context.attach(baggage.set_baggage("session.id", f"s-{genai_mode}",
                                               baggage.set_baggage("enduser.id", user)))
    try:
        assert _ask(upstream)
    finally:
        context.detach(token)
        instrumentor.uninstrument()
    # The content events (log records) reach Fireline before their span in two modes and after it in
    # the other two: the call is complete either way.
    first, second = (tracer, logs) if genai_mode in ("span_only", "span_and_event") else (logs, tracer)
    assert first.force_flush(10_000) and second.force_flush(10_000) and meters.force_flush(10_000)
    logs.shutdown()
    tracer.shutdown()
    meters.shutdown()
    call = stored(fl, user=user)
    assert_complete(call, user=user, session=f"s-{genai_mode}")
    assert call["system_prompt"] == "You are support."
    counted = [ln for ln in httpx.get(f"{fl.url}/metrics").text.splitlines()
               if ln.startswith("fireline_otlp_genai_tokens_total{") and f'app="{metrics_app}"' in ln]
    assert {ln.split('type="')[1].split('"')[0] for ln in counted} == {"input", "output"}
    assert sum(float(ln.rsplit(" ", 1)[1]) for ln in counted) == call["input_tokens"] + call["output_tokens"]


def test_openinference_instrumentation_openai_registered_with_phoenix(fl: Fireline, upstream: UpstreamServer) -> None:
    from openinference.instrumentation import using_attributes
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from phoenix.otel import register

    # Phoenix's own setup, pointed at Fireline: the project name is the app
    tracer = register(project_name="phoenix-project", endpoint=f"{fl.url}/v1/traces", protocol="http/protobuf",
                      headers={"X-Fireline-Key": fl.keys["ingest"]}, set_global_tracer_provider=False,
                      verbose=False)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer)
    try:
        with using_attributes(user_id="oi@example.com", session_id="s-oi"):
            assert _ask(upstream)
    finally:
        instrumentor.uninstrument()
    assert tracer.force_flush(10_000)
    tracer.shutdown()
    assert_complete(stored(fl, user="oi@example.com"), user="oi@example.com", session="s-oi",
                    app="phoenix-project")


class TraceloopAssociation(SpanProcessor):
    """What traceloop-sdk's span processor does with `Traceloop.set_association_properties(...)`
    (the SDK itself is not installed: it pulls ~60 packages, grpcio among them)."""

    def __init__(self, properties: dict[str, str]) -> None:
        self.properties = properties

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        for key, value in self.properties.items():
            span.set_attribute(f"traceloop.association.properties.{key}", value)

    def on_end(self, span: ReadableSpan) -> None:
        pass


def test_openllmetry_instrumentation_openai_with_association_properties(fl: Fireline,
                                                                         upstream: UpstreamServer) -> None:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    tracer = TracerProvider(resource=Resource.create({"service.name": APP}))
    tracer.add_span_processor(TraceloopAssociation({"user_id": "tl@example.com", "session_id": "s-tl",
                                                    "tenant_id": "globex"}))
    tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{fl.url}/v1/traces", headers={"X-Fireline-Key": fl.keys["ingest"]}), schedule_delay_millis=ON_FLUSH))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer)
    try:
        assert _ask(upstream)
    finally:
        instrumentor.uninstrument()
    assert tracer.force_flush(10_000)
    tracer.shutdown()
    call = stored(fl, user="tl@example.com")
    assert_complete(call, user="tl@example.com", session="s-tl")
    assert call["tenant"] == "globex" and "tl@example.com" not in str(call["metadata"])
