"""The gateway's background writer: the database is never on a request's critical path.

A request appends one plain dict to a deque (no parsing, no validation) and returns. One
writer thread takes up to `batch_size` pending calls at a time, turns them into CallIn records
(assembling streams, parsing answers) and stores them through calls.service.ingest, so the
privacy pass and the registered detectors run there, one transaction per batch. A failed batch
is retried once, then logged loudly and counted. `stop()` drains everything accepted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from fireline.calls import service
from fireline.calls.pricing import cost_usd, price_table
from fireline.calls.schemas import CallIn
from fireline.config import Config
from fireline.db import Database
from fireline.gateway.enforce import message_text
from fireline.gateway.responses import assemble_stream, message_of
from fireline.metrics import REGISTRY

log = logging.getLogger("fireline.gateway.writer")

QUEUE_DEPTH = Gauge("fireline_gateway_log_queue_depth", "Gateway calls accepted but not yet stored",
                    registry=REGISTRY)
WRITE_FAILURES = Counter("fireline_gateway_log_write_failures_total",
                         "Gateway log batches that failed to store (after one retry: 'final')", ["attempt"],
                         registry=REGISTRY)
DROPPED = Counter("fireline_gateway_log_dropped_total", "Gateway calls that could not be stored", ["reason"],
                  registry=REGISTRY)
GATEWAY_CALLS = Counter("fireline_gateway_calls_total", "Calls through the gateway by logged status",
                        ["status"], registry=REGISTRY)


class CallWriter:
    def __init__(self, db: Database, config: Config, *, batch_size: int = 500, max_queue: int = 100_000,
                 flush_interval: float = 0.05) -> None:
        self.db, self.config, self.flush_interval = db, config, flush_interval
        self.batch_size, self.max_queue = batch_size, max_queue
        self.prices = price_table(config)  # the config does not change while the server runs
        self.queue: deque[dict[str, Any]] = deque()
        self.wake = threading.Event()
        self.stopping = False
        self.stored = 0
        self.in_flight = 0
        self.thread = threading.Thread(target=self._run, name="fireline-gateway-writer", daemon=True)
        QUEUE_DEPTH.set_function(lambda: len(self.queue) + self.in_flight)

    def start(self) -> None:
        self.thread.start()

    def full(self) -> bool:
        return len(self.queue) >= self.max_queue

    def submit(self, pending: dict[str, Any]) -> None:
        self.queue.append(pending)
        if not self.wake.is_set():
            self.wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Store every accepted call, then end the thread."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout)
        if self.thread.is_alive() or self.queue:
            log.error("gateway writer: %d calls not stored at shutdown", len(self.queue) + self.in_flight)

    def _run(self) -> None:
        while True:
            self.wake.wait(0.5)
            # Let a batch gather: one transaction per many calls costs far less per call.
            if self.queue and not self.stopping and len(self.queue) < self.batch_size:
                time.sleep(self.flush_interval)
            self.wake.clear()
            while self.queue:
                batch: list[dict[str, Any]] = []
                while self.queue and len(batch) < self.batch_size:
                    batch.append(self.queue.popleft())
                self.in_flight = len(batch)
                self._write(batch)
                self.in_flight = 0
            if self.stopping and not self.queue:
                return

    def _write(self, batch: list[dict[str, Any]]) -> None:
        calls = []
        prices = self.prices
        for pending in batch:
            GATEWAY_CALLS.labels(pending["status"]).inc()
            try:
                calls.append(build_call(pending, self.config, prices))
            except (ValidationError, ValueError, TypeError, KeyError):
                DROPPED.labels("invalid").inc()
                log.exception("gateway writer: a call could not be turned into a record")
        for attempt in ("first", "final"):
            try:
                service.ingest(self.db, calls, source="gateway")
                self.stored += len(calls)
                return
            except Exception:
                WRITE_FAILURES.labels(attempt).inc()
                if attempt == "first":
                    log.warning("gateway writer: storing %d calls failed; retrying once", len(calls), exc_info=True)
                    time.sleep(0.2)
        DROPPED.labels("write_failed").inc(len(calls))
        log.error("GATEWAY LOG WRITE FAILED: %d calls were not stored (ids %s...)", len(calls),
                  ", ".join(c.id or "" for c in calls[:5]), exc_info=True)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
            return parsed if isinstance(parsed, dict) else raw
        except orjson.JSONDecodeError:
            return raw
    return raw


def build_call(p: dict[str, Any], config: Config, prices: dict[str, tuple[float, float]] | None = None) -> CallIn:
    """The full log record of one gateway call (the CONTRACT call JSON)."""
    body: dict[str, Any] = p["body"]
    answer = p.get("answer")
    if answer is None and p.get("raw") is not None:
        raw = p["raw"]
        answer = assemble_stream(b"".join(raw)) if p.get("stream") else orjson.loads(raw)
    msg = message_of(answer) if isinstance(answer, dict) else {}
    app_cfg = config.app(p["app"])
    prices = price_table(config) if prices is None else prices
    system, messages = [], []
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        if m.get("role") in ("system", "developer"):
            system.append(message_text(m.get("content")))
        else:
            messages.append(m)
    tool_calls = []
    for call in [*(msg.get("tool_calls") or []), *(p.get("refused_tools") or [])]:
        fn = call.get("function") or {}
        name = fn.get("name") or "unknown"
        tool_calls.append({"name": name, "arguments": _arguments(fn.get("arguments")), "id": call.get("id"),
                           "kind": app_cfg.tools.get(name),
                           "status": ("blocked" if call.get("blocked") else "refused") if call.get("refused_by")
                           else "proposed"})
    usage = (answer or {}).get("usage") or {} if isinstance(answer, dict) else {}
    output = p.get("output")
    if output is None:
        output = msg.get("content") if isinstance(msg.get("content"), str) else None
    metadata: dict[str, Any] = {"source": "gateway", "stream": bool(body.get("stream"))}
    for key in ("controls", "notes", "cohort", "route", "error", "http_status", "injected", "fallback_served",
                "budget"):
        if p.get(key):
            metadata[key] = p[key]
    if body.get("tools"):
        metadata["tools_offered"] = [(t.get("function") or {}).get("name") for t in body["tools"]
                                     if isinstance(t, dict)]
        metadata["tools"] = body["tools"]  # names, schemas, descriptions: hashed at ingest (tools_sha256)
    if isinstance(answer, dict) and answer.get("system_fingerprint"):
        metadata["system_fingerprint"] = answer["system_fingerprint"]
    model_resolved = ((answer or {}).get("model") or body.get("model")) if isinstance(answer, dict) \
        else body.get("model")
    retrieval = [{"id": doc_id.strip(), "source": "x-fireline-retrieval"}
                 for doc_id in (p.get("retrieval") or "").split(",") if doc_id.strip()]
    return CallIn.model_validate({
        "id": p["id"], "app": p["app"], "tenant": p.get("tenant"), "session_id": p.get("session"),
        "environment": p.get("environment"),
        "user": p.get("user"), "model": p.get("model_requested"),
        "model_resolved": model_resolved, "retrieval": retrieval,
        "cost_usd": cost_usd(prices, model_resolved, usage.get("prompt_tokens"), usage.get("completion_tokens")),
        "provider": "gateway", "prompt_version": p.get("prompt_version"),
        "system_prompt": "\n".join(system) if system else None,
        "input": messages, "output": output,
        "user_visible_output": p.get("visible"),
        "tool_calls": tool_calls, "guardrails": p.get("guardrails") or [],
        "input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens"),
        "latency_ms": p.get("latency_ms"), "status": p["status"], "api_key_id": p.get("api_key_id"),
        "started_at": datetime.fromtimestamp(p["started"], UTC), "metadata": metadata,
    })
