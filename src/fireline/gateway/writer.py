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

from fireline.calls import dead_letters, service
from fireline.calls.pricing import cost_usd, price_table
from fireline.calls.schemas import INT32_MAX, CallIn
from fireline.config import Config
from fireline.db import Database
from fireline.gateway.enforce import message_text
from fireline.gateway.responses import assemble_stream, message_of
from fireline.metrics import REGISTRY
from fireline.validation import bounded_int, clean_json, clean_text

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
        dead: list[dead_letters.Dead] = []
        for pending in batch:
            GATEWAY_CALLS.labels(pending["status"]).inc()
            try:
                calls.append(build_call(pending, self.config, prices))
            except (ValidationError, ValueError, TypeError, KeyError) as exc:
                dead.append(dead_letters.Dead(pending.get("id"), dead_letters.failure_reason(exc), "prepare",
                                              json_safe(pending)))
        if dead:
            try:
                dead_letters.record(self.db, dead, source="gateway")
            except Exception:
                DROPPED.labels("invalid").inc(len(dead))
                log.exception("gateway writer: %d calls could not be turned into records nor dead-lettered",
                              len(dead))
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


def json_safe(pending: dict[str, Any]) -> dict[str, Any]:
    """The pending record as JSON (upstream bytes as text), for the spool and dead letters."""
    out = dict(pending)
    raw = out.get("raw")
    if isinstance(raw, list):
        raw = b"".join(raw)
    if isinstance(raw, bytes | bytearray):
        out["raw"] = bytes(raw).decode("utf-8", "replace")
    result: dict[str, Any] = clean_json(out)
    return result


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
            return clean_json(parsed) if isinstance(parsed, dict) else clean_text(raw)
        except orjson.JSONDecodeError:
            return clean_text(raw)
    return clean_json(raw) if isinstance(raw, dict) else None


def _text(value: Any, limit: int | None = None) -> str | None:
    """Upstream text made storable (the caller already saw it: it is kept, never refused)."""
    if not isinstance(value, str):
        return None
    value = clean_text(value)
    return value[:limit] if limit is not None else value


def _answer(p: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The upstream's answer as a completion dict, and whether it could be read."""
    answer = p.get("answer")
    if answer is None and p.get("raw") is not None:
        raw = p["raw"]
        try:
            answer = assemble_stream(b"".join(raw)) if p.get("stream") else orjson.loads(raw)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None, False
    return (answer, True) if isinstance(answer, dict) else (None, answer is None)


def build_call(p: dict[str, Any], config: Config, prices: dict[str, tuple[float, float]] | None = None) -> CallIn:
    """The full log record of one gateway call (the CONTRACT call JSON). The request side was
    checked before it was forwarded (gateway.checks); what the upstream answered is cleaned here
    (NUL, lone surrogates, odd types), because an answer the caller has seen must be logged."""
    body: dict[str, Any] = p["body"]
    answer, readable = _answer(p)
    msg = message_of(answer) if answer is not None else {}
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
    proposed = msg.get("tool_calls")
    for call in [*(proposed if isinstance(proposed, list) else []), *(p.get("refused_tools") or [])]:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        fn: dict[str, Any] = function if isinstance(function, dict) else {}
        name = _text(fn.get("name"), 200) or "unknown"
        tool_calls.append({"name": name, "arguments": _arguments(fn.get("arguments")),
                           "id": _text(call.get("id"), 200), "kind": app_cfg.tools.get(name),
                           "status": "refused" if call.get("refused_by") else "proposed"})
    raw_usage = answer.get("usage") if answer is not None else None
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    input_tokens, output_tokens = _tokens(usage.get("prompt_tokens")), _tokens(usage.get("completion_tokens"))
    output = p.get("output")
    output = _text(output if output is not None else msg.get("content"))
    metadata: dict[str, Any] = {"source": "gateway", "stream": bool(body.get("stream"))}
    for key in ("controls", "notes", "cohort", "error", "http_status", "injected", "fallback_served"):
        if p.get(key):
            metadata[key] = clean_json(p[key])
    if not readable:
        metadata["upstream_answer_unreadable"] = True
    if body.get("tools"):
        metadata["tools_offered"] = [(t.get("function") or {}).get("name") for t in body["tools"]
                                     if isinstance(t, dict)]
    model_resolved = _text(answer.get("model"), 200) if answer is not None else None
    model_resolved = model_resolved or body.get("model")
    retrieval = [{"id": doc_id.strip()[:500], "source": "x-fireline-retrieval"}
                 for doc_id in (p.get("retrieval") or "").split(",") if doc_id.strip()]
    return CallIn.model_validate({
        "id": p["id"], "app": p["app"], "tenant": p.get("tenant"), "session_id": p.get("session"),
        "user": p.get("user"), "model": p.get("model_requested"),
        "model_resolved": model_resolved, "retrieval": retrieval,
        "cost_usd": cost_usd(prices, model_resolved, input_tokens, output_tokens),
        "provider": "gateway", "prompt_version": p.get("prompt_version"),
        "system_prompt": "\n".join(system) if system else None,
        "input": messages, "output": output,
        "user_visible_output": _text(p.get("visible")),
        "tool_calls": tool_calls, "guardrails": clean_json(p.get("guardrails") or []),
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "latency_ms": p.get("latency_ms"), "status": p["status"],
        "started_at": datetime.fromtimestamp(p["started"], UTC), "metadata": metadata,
    })


def _tokens(value: Any) -> int | None:
    count = bounded_int(value)
    return count if count is not None and count <= INT32_MAX else None
