"""Ingest under overload: once queued requests have waited past `ingest.max_wait_s`, a new request is
refused at once with 503 and Retry-After, nothing of it stored, while every request admitted before
is stored and answered as usual; the real OpenTelemetry exporter retries after Retry-After and its
spans are all stored, once; OTLP logs exports waiting for their worker thread are bounded the same way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fireline.calls import search, service
from fireline.calls.admission import Admission, BoundedThreads, Overloaded
from fireline.calls.api import parse_calls
from fireline.calls.group import GroupCommit
from fireline.calls.models import Call
from fireline.config import Config
from fireline.db import Database
from fireline.ingest import logs
from fireline.metrics import REGISTRY
from tests.support.fireline import running


def call(cid: str) -> dict[str, Any]:
    return {"id": cid, "app": "bot", "input": [{"role": "user", "content": f"where is order {cid}?"}],
            "output": "it ships tomorrow"}


class Gate:
    """A store that waits while closed: the group's thread is held inside a commit."""

    def __init__(self, store: Any) -> None:
        self.store, self.open, self.entered = store, threading.Event(), threading.Event()
        self.open.set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.open.is_set():
            self.entered.set()
            assert self.open.wait(30), "the test never opened the gate"
        return self.store(*args, **kwargs)


def wait_queued(group: GroupCommit, n: int) -> None:
    """Until n requests wait in the group's queue (behind the held commit)."""
    deadline = time.monotonic() + 30
    while len(group._queue) < n:
        assert time.monotonic() < deadline, f"{len(group._queue)} of {n} requests queued"
        time.sleep(0.01)


def shed_count(source: str) -> float:
    return REGISTRY.get_sample_value("fireline_ingest_shed_total", {"source": source}) or 0.0


def three_exports(gate: Gate, export: Callable[[Any], Any], batches: list[Any],
                  queued: Callable[[], bool]) -> list[Any]:
    """Three OTLP exports through a real exporter against a server with `ingest.max_wait_s` 0.3: the
    first held in its store (`gate`), the second waiting behind it (`queued` tells when), the third
    sent once the second has waited past the bound. The third must be refused (counted as shed);
    then the gate opens and the exporters' results come back in the order they finished."""
    before = shed_count("otlp")
    gate.open.clear()
    results: list[Any] = []
    sent: list[threading.Thread] = []

    def send(batch: Any) -> None:
        sent.append(threading.Thread(target=lambda: results.append(export(batch))))
        sent[-1].start()

    send(batches[0])
    assert gate.entered.wait(30)  # the first export is being stored, held there
    send(batches[1])
    deadline = time.monotonic() + 30
    while not queued():
        assert time.monotonic() < deadline, "the second export never queued"
        time.sleep(0.01)
    time.sleep(0.4)
    send(batches[2])
    deadline = time.monotonic() + 20
    while shed_count("otlp") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shed_count("otlp") > before  # the third export was refused while the second waited
    gate.open.set()
    for t in sent:
        t.join(60)
    return results


def test_admission_refuses_only_past_the_bound() -> None:
    now = [100.0]
    gate = Admission(2.0, "api", clock=lambda: now[0])
    gate.check(None)  # nothing queued
    gate.check(98.0)  # the oldest waited exactly the bound
    with pytest.raises(Overloaded) as refused:
        gate.check(97.9)
    assert refused.value.status == 503 and refused.value.retry_after == 1
    assert "ingest.max_wait_s is 2)" in refused.value.message and "2.1 s" in refused.value.message
    with pytest.raises(Overloaded) as far:
        gate.check(80.0)  # 20 s waited, 18 past the bound: come back when the backlog may be gone
    assert far.value.retry_after == 18
    assert gate.shed == 2
    Admission(None, "api").check(0.0)  # no bound: everything admitted
    with pytest.raises(ValueError):
        Admission(0, "api")


@given(bound=st.floats(0.001, 1e6), waited=st.floats(0, 2e6))
def test_admission_refuses_exactly_past_the_bound_and_says_when_to_come_back(bound: float, waited: float) -> None:
    now, oldest = 1e7, 1e7 - waited
    seen = now - oldest  # the wait as the clock sees it (floats round)
    gate = Admission(bound, "api", clock=lambda: now)
    if seen <= bound:
        gate.check(oldest)
        assert gate.shed == 0
        return
    with pytest.raises(Overloaded) as refused:
        gate.check(oldest)
    assert refused.value.retry_after >= 1 and refused.value.retry_after - 1 < max(seen - bound, 1)
    assert refused.value.details == {"retry_after": refused.value.retry_after} and gate.shed == 1


def test_a_backlog_past_the_bound_refuses_new_requests_and_stores_every_admitted_one(db: Database) -> None:
    gate = Gate(lambda batch: service.ingest_prepared(db, batch))
    group = GroupCommit(gate, max_wait=0.3)
    gate.open.clear()
    first = group.submit(parse_calls(call("first")))
    assert gate.entered.wait(30)  # its group is being committed, held there
    queued = [group.submit(parse_calls(call(f"queued-{i}"))) for i in range(3)]
    time.sleep(0.45)
    before = shed_count("api")
    with pytest.raises(Overloaded) as refused:
        group.submit(parse_calls(call("refused")))
    assert refused.value.retry_after >= 1 and shed_count("api") == before + 1
    gate.open.set()
    answers = [f.result(30) for f in [first, *queued]]
    assert [a.ids for a in answers] == [["first"], ["queued-0"], ["queued-1"], ["queued-2"]]
    assert all(len(a.inserted) == 1 for a in answers)
    with db.session() as s:
        assert search.count(s, search.CallFilter()) == 4
        assert s.get(Call, "refused") is None
    # The backlog is gone: the refused call, sent again, is stored.
    assert group.ingest(parse_calls(call("refused"))).ids == ["refused"]


@pytest.fixture
def held(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Gate, Any]]:
    """A running server whose ingest commits can be held (`Gate`), with ingest.max_wait_s 0.3."""
    gate = Gate(service.ingest_prepared)
    monkeypatch.setattr(service, "ingest_prepared", gate)
    with running(db, Config.model_validate({"ingest": {"max_wait_s": 0.3}})) as fl:
        yield gate, fl


def test_the_api_answers_503_with_retry_after_past_the_bound_and_stores_the_rest(held: tuple[Gate, Any]) -> None:
    gate, fl = held
    headers = {"Authorization": f"Bearer {fl.keys['ingest']}"}
    with httpx.Client(base_url=fl.url, headers=headers, timeout=60) as http:
        assert http.post("/api/v1/calls", json=call("warm")).status_code == 201
        gate.open.clear()
        pending: list[Future[httpx.Response]] = []

        def send(cid: str) -> None:
            f: Future[httpx.Response] = Future()
            pending.append(f)
            threading.Thread(target=lambda: f.set_result(httpx.post(fl.url + "/api/v1/calls", json=call(cid),
                                                                      headers=headers, timeout=60))).start()

        send("held")
        assert gate.entered.wait(30)
        for i in range(3):
            send(f"waiting-{i}")
        wait_queued(fl.app.state.ingest_group, 3)
        time.sleep(0.4)
        t0 = time.monotonic()
        refused = http.post("/api/v1/calls", json=call("refused"))
        assert time.monotonic() - t0 < 5  # answered at once, not after the backlog
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "ingest.max_wait_s" in refused.json()["detail"] and refused.json()["retry_after"] >= 1
        gate.open.set()
        assert sorted(f.result(60).status_code for f in pending) == [201] * 4
        counted = http.get("/api/v1/calls/count", headers={"Authorization": f"Bearer {fl.keys['viewer']}"}).json()
        assert counted["count"] == 5  # warm, held and the three waiting; not the refused one
        assert http.post("/api/v1/calls", json=call("refused")).status_code == 201  # sent again: stored
        metrics = http.get("/metrics").text
        assert 'fireline_ingest_shed_total{source="api"}' in metrics


def test_the_opentelemetry_exporter_retries_a_refused_export_and_every_span_is_stored_once(
        held: tuple[Gate, Any]) -> None:
    gate, fl = held
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("fireline-tests")
    for i in range(6):
        with tracer.start_as_current_span(f"chat gpt-4o {i}") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                 "gen_ai.usage.input_tokens": 10 + i, "gen_ai.usage.output_tokens": 5})
    spans = memory.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", timeout=30,
                                headers={"Authorization": f"Bearer {fl.keys['ingest']}"})
    results = three_exports(gate, exporter.export, [spans[:2], spans[2:4], spans[4:]],
                            lambda: len(fl.app.state.otlp_group[0]._queue) >= 1)
    assert results == [SpanExportResult.SUCCESS] * 3  # the refused one too, retried after Retry-After
    with httpx.Client(base_url=fl.url, headers={"Authorization": f"Bearer {fl.keys['viewer']}"}) as http:
        assert http.get("/api/v1/calls/count", params={"app": "otel-bot"}).json()["count"] == 6


def test_work_waiting_for_its_thread_past_the_bound_refuses_new_work_and_runs_the_rest() -> None:
    now = [0.0]
    threads = BoundedThreads(anyio.CapacityLimiter(1), Admission(2.0, "otlp", clock=lambda: now[0]))
    release = threading.Event()
    ran: list[str] = []

    def job(name: str) -> Any:
        def work() -> str:
            if name == "held":
                assert release.wait(30)
            ran.append(name)
            return name
        return work

    async def scenario() -> list[str]:
        answers: list[str] = []

        async def run(name: str) -> None:
            answers.append(await threads.run(job(name)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "held")
            while threads.waiting() or not threads.limiter.borrowed_tokens:
                await anyio.sleep(0.005)  # "held" started, holding the one thread
            tg.start_soon(run, "queued")
            while threads.waiting() < 1:
                await anyio.sleep(0.005)
            now[0] = 2.0  # the queued one waited exactly the bound: still admitted
            tg.start_soon(run, "admitted")
            while threads.waiting() < 2:
                await anyio.sleep(0.005)
            with anyio.CancelScope() as gone:  # a client that goes away while waiting leaves the queue
                gone.cancel()
                await threads.run(job("cancelled"))
            assert threads.waiting() == 2
            now[0] = 2.5
            with pytest.raises(Overloaded) as refused:
                await threads.run(job("refused"))
            assert refused.value.retry_after == 1
            release.set()
        return answers

    answers = anyio.run(scenario)
    assert sorted(answers) == ["admitted", "held", "queued"] and "refused" not in ran and "cancelled" not in ran
    assert threads.waiting() == 0 and threads.admission.shed == 1
    now[0] = 100.0
    assert anyio.run(threads.run, job("later")) == "later"  # nothing waits: admitted whatever the clock


def test_the_opentelemetry_log_exporter_retries_a_refused_export_and_every_event_is_joined(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(logs.ingest_logs)
    monkeypatch.setattr(logs, "ingest_logs", gate)
    with running(db, Config.model_validate({"ingest": {"max_wait_s": 0.3}})) as fl:
        key = {"Authorization": f"Bearer {fl.keys['ingest']}"}
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "otel-logs-bot"}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("fireline-tests")
        records = InMemoryLogRecordExporter()
        logger_provider = LoggerProvider(resource=Resource.create({"service.name": "otel-logs-bot"}))
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(records))
        logger = logger_provider.get_logger("openai-v2")
        ids = []
        for i in range(3):
            with tracer.start_as_current_span("chat gpt-4o") as span:
                span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
                logger.emit(LogRecord(event_name="gen_ai.choice", body={
                    "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": f"answer {i}"}}))
            ctx = span.get_span_context()
            ids.append(f"otlp-{ctx.trace_id:032x}-{ctx.span_id:016x}")
        spans = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers=key, timeout=30)
        assert spans.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
        batches = [[r] for r in records.get_finished_logs()]
        assert len(batches) == 3
        exporter = OTLPLogExporter(endpoint=f"{fl.url}/v1/logs", headers=key, timeout=30)
        results = three_exports(gate, exporter.export, batches,
                                lambda: getattr(fl.app.state, "otlp_threads", None) is not None
                                and fl.app.state.otlp_threads.waiting() >= 1)
        assert results == [LogRecordExportResult.SUCCESS] * 3  # the refused one too, retried after Retry-After
        with fl.client("responder") as http:
            outputs = [http.get(f"/api/v1/calls/{cid}", params={"raw": "true", "reason": "test"}).json()["output"]
                       for cid in ids]
        assert outputs == ["answer 0", "answer 1", "answer 2"]


def test_a_bound_that_is_not_positive_is_refused_at_start(db: Database) -> None:
    from fireline.api import create_app

    with pytest.raises(Exception, match="max_wait_s"):
        create_app(db, Config.model_validate({"ingest": {"max_wait_s": 0}}))
