"""The gateway's background writer: the database is never on a request's critical path.

A request appends its pending call record to the durable spool (gateway.spool: one `write()`,
before the answer is released) and returns. One writer thread reads the spool in order; a helper
process (gateway.prepare) turns the records into prepared calls (assembling streams, parsing
answers, the privacy pass, encryption, the stateless detectors), and the thread stores them
through calls.service.ingest_prepared (the stateful detectors, one transaction per batch,
row-by-row retry and dead letters for rows the database refuses, the events). While the
database is away the writer backs off and retries the same records; nothing is dropped and
the answers keep flowing. At start it adopts spool segments a dead process left behind and
replays them first; replays are idempotent (call ids). A call that cannot be spooled (disk
full) is kept in memory instead.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from prometheus_client import Counter, Gauge

from fireline.calls import privacy, service
from fireline.calls.pricing import cost_usd, price_table
from fireline.calls.schemas import INT32_MAX, CallIn
from fireline.config import Config
from fireline.db import Database, DatabaseUnavailable, utcnow
from fireline.gateway.enforce import message_text
from fireline.gateway.prepare import Helper, prepare
from fireline.gateway.responses import assemble_stream, message_of
from fireline.gateway.spool import Spool
from fireline.metrics import REGISTRY
from fireline.validation import bounded_int, clean_json, clean_text

log = logging.getLogger("fireline.gateway.writer")

QUEUE_DEPTH = Gauge("fireline_gateway_log_queue_depth", "Gateway calls accepted but not yet stored",
                    registry=REGISTRY)
SPOOL_BYTES = Gauge("fireline_gateway_spool_bytes", "Bytes of spooled gateway calls not yet stored",
                    registry=REGISTRY)
SPOOL_ERRORS = Counter("fireline_gateway_spool_errors_total",
                       "Gateway calls that could not be written to the spool (kept in memory)", registry=REGISTRY)
WRITE_FAILURES = Counter("fireline_gateway_log_write_failures_total",
                         "Gateway log batches that could not be stored yet (retried until they are)", ["reason"],
                         registry=REGISTRY)
DROPPED = Counter("fireline_gateway_log_dropped_total", "Gateway calls that could not be stored", ["reason"],
                  registry=REGISTRY)
GATEWAY_CALLS = Counter("fireline_gateway_calls_total", "Calls through the gateway by logged status",
                        ["status"], registry=REGISTRY)
MAX_BACKOFF = 5.0


SEALED_LINE = b"E1:"  # a spool line sealed with the raw-content key: base64 of privacy.seal(JSON)


def encode(pending: dict[str, Any]) -> bytes:
    """One spool line: the pending record as JSON (upstream bytes as text), sealed with the raw-content
    key (AES-GCM: the spool is a copy of raw content on disk), base64, newline-terminated."""
    raw = pending.get("raw")
    if raw is not None and not isinstance(raw, str):
        pending["raw"] = (b"".join(raw) if isinstance(raw, list) else bytes(raw)).decode("utf-8", "replace")
    try:
        data = orjson.dumps(pending)
    except (TypeError, orjson.JSONEncodeError):  # an upstream answer orjson refuses: store it cleaned
        data = orjson.dumps(clean_json(pending))
    return SEALED_LINE + base64.b64encode(privacy.seal(data, "gateway-spool")) + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """A spool line back to its record (lines written before sealing are plain JSON). ValueError
    when the line is damaged or was sealed with another key."""
    line = line.rstrip(b"\n")
    if line.startswith(SEALED_LINE):
        try:
            line = privacy.unseal(base64.b64decode(line[len(SEALED_LINE):], validate=True), "gateway-spool")
        except (InvalidTag, binascii.Error) as exc:
            raise ValueError("a spool line that cannot be opened") from exc
    record: dict[str, Any] = orjson.loads(line)
    return record


class CallWriter:
    def __init__(self, db: Database, config: Config, *, spool: Spool | None = None, batch_size: int = 500,
                 max_queue: int = 100_000, flush_interval: float = 0.05, fsync_interval: float = 1.0,
                 max_spool_bytes: int = 10 * 1024**3, helper: Helper | None = None,
                 canaries: Callable[[], dict[str, str]] | None = None) -> None:
        self.db, self.config, self.spool, self.flush_interval = db, config, spool, flush_interval
        self.helper = helper  # prepares batches in another process (gateway.prepare)
        # The detect part's canary tokens: given when detection is wired, the helper screens the batch
        # (detect.screen) with this list; else Detection does it in this thread (or nothing does).
        self.canaries = canaries
        self.batch_size, self.max_queue, self.fsync_interval = batch_size, max_queue, fsync_interval
        self.max_spool_bytes = max_spool_bytes
        self.prices = price_table(config)  # the config does not change while the server runs
        self.memory: deque[bytes] = deque()  # calls the spool could not take (disk full)
        self.wake = threading.Event()
        self.stopping = False
        self.stop_by = 0.0
        self.down = False
        self.stored = 0
        self.thread = threading.Thread(target=self._run, name="fireline-gateway-writer", daemon=True)
        QUEUE_DEPTH.set_function(self.depth)
        SPOOL_BYTES.set_function(lambda: self.spool.pending_bytes() if self.spool is not None else 0)

    def depth(self) -> int:
        return len(self.memory) + (self.spool.pending() if self.spool is not None else 0)

    def start(self) -> None:
        self.thread.start()

    def full(self) -> bool:
        if len(self.memory) >= self.max_queue:
            return True
        return self.spool is not None and self.spool.pending_bytes() >= self.max_spool_bytes

    def submit(self, pending: dict[str, Any]) -> None:
        """Make the call durable (spool) before its answer is released; never raises."""
        line = encode(pending)
        if self.spool is not None:
            try:
                self.spool.append(line)
            except OSError as exc:
                SPOOL_ERRORS.inc()
                if SPOOL_ERRORS._value.get() % 1000 == 1:  # type: ignore[attr-defined]
                    log.error("gateway spool write failed (%s): calls are kept in memory until it works", exc)
                self.memory.append(line)
        else:
            self.memory.append(line)
        if not self.wake.is_set():
            self.wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Store what can be stored within `timeout`; the spool keeps the rest for the next start."""
        self.stopping = True
        self.stop_by = time.monotonic() + timeout
        self.wake.set()
        self.thread.join(timeout + 5)
        if self.helper is not None:
            self.helper.close()
        if self.spool is not None:
            self.spool.sync()
            left = self.spool.pending()
            self.spool.close()
            if left:
                log.warning("gateway writer: %d spooled calls not stored yet; they are replayed at the next start",
                            left)
        if self.memory:
            DROPPED.labels("shutdown").inc(len(self.memory))
            log.error("gateway writer: %d calls that could not be spooled were not stored at shutdown",
                      len(self.memory))

    # ---- the writer thread ----

    def _has_work(self) -> bool:
        return bool(self.memory) or (self.spool is not None and not self.spool.empty())

    def _run(self) -> None:
        if self.spool is not None:
            self._safely(self.spool.adopt_orphans)
        backoff = 0.0
        last_sync = last_scan = time.monotonic()
        while True:
            if not self._has_work():
                if self.stopping:
                    return
                self.wake.wait(0.5)
                self.wake.clear()
                # Let a batch gather: one transaction per many calls costs far less per call.
                if self._has_work() and not self.stopping and self.depth() < self.batch_size:
                    time.sleep(self.flush_interval)
            if self._has_work():
                try:
                    self._step()
                    backoff = 0.0
                    if self.down:
                        self.down = False
                        log.warning("gateway writer: the database is back; storing the spooled calls")
                except DatabaseUnavailable:
                    WRITE_FAILURES.labels("database_unavailable").inc()
                    if not self.down:
                        self.down = True
                        log.warning("gateway writer: the database is unavailable; calls stay in the spool and "
                                    "are stored when it is back")
                    if self.stopping and (self.spool is not None or time.monotonic() > self.stop_by):
                        return  # the spool keeps them for the next start
                    backoff = min(max(backoff * 2, 0.25), MAX_BACKOFF)
                    self.wake.wait(backoff)
                    self.wake.clear()
                except Exception:
                    WRITE_FAILURES.labels("error").inc()
                    log.exception("gateway writer: storing a batch failed; retrying")
                    self.wake.wait(1.0)
                    self.wake.clear()
            now = time.monotonic()
            if self.spool is not None and self.spool.fsync == "interval" and now - last_sync >= self.fsync_interval:
                last_sync = now
                self.spool.sync()
            if self.spool is not None and now - last_scan >= 10.0 and not self.down:
                last_scan = now
                self._safely(self.spool.adopt_orphans)

    def _safely(self, fn: Any) -> None:
        try:
            fn()
        except OSError:
            log.exception("gateway spool: %s failed", getattr(fn, "__name__", fn))

    def _step(self) -> None:
        """Store one batch: calls held in memory first, else the oldest unstored spool lines."""
        if self.memory:
            held = [self.memory[i] for i in range(min(self.batch_size, len(self.memory)))]
            self._store(held, "memory")
            for _ in held:
                self.memory.popleft()
            return
        assert self.spool is not None
        got = self.spool.read(self.batch_size)
        if got is None:
            return
        segment, lines = got
        self._store([line for _, line in lines], segment.path.name)
        self.spool.mark_stored(segment, lines[-1][0], len(lines))

    def _store(self, lines: list[bytes], where: str) -> None:
        """Prepare the lines and run the stateless detectors (in the helper process when there is one),
        then the stateful detectors, the write and the events here, where their state lives."""
        now = utcnow()
        prepared = None
        if self.helper is not None:
            try:
                prepared = self.helper.run(lines, now, self.canaries() if self.canaries is not None else None)
            except BrokenProcessPool:  # it cannot start twice in a row (or dies on this batch): do it here
                log.error("gateway writer: the preparing process keeps failing; preparing calls in this thread")
                self.helper.close()
                self.helper = None
        if prepared is None:
            prepared = prepare(lines, self.config, self.prices, now)
        if prepared.damaged:
            DROPPED.labels("spool_damaged").inc(prepared.damaged)
            log.error("gateway spool: %d damaged records in %s were skipped", prepared.damaged, where)
        service.ingest_prepared(self.db, prepared.batch, source="gateway")
        self.stored += len(prepared.statuses)
        for status in prepared.statuses:
            GATEWAY_CALLS.labels(status).inc()


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
        if isinstance(raw, list):
            raw = b"".join(raw)
        try:
            answer = assemble_stream(raw.encode() if isinstance(raw, str) else raw) if p.get("stream") \
                else orjson.loads(raw)
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
                           "status": ("blocked" if call.get("blocked") else "refused") if call.get("refused_by")
                           else "proposed"})
    raw_usage = answer.get("usage") if answer is not None else None
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    input_tokens, output_tokens = _tokens(usage.get("prompt_tokens")), _tokens(usage.get("completion_tokens"))
    output = p.get("output")
    output = _text(output if output is not None else msg.get("content"))
    metadata: dict[str, Any] = {"source": "gateway", "stream": bool(body.get("stream"))}
    for key in ("controls", "notes", "cohort", "route", "error", "http_status", "injected", "fallback_served",
                "budget", "api", "response_id", "previous_response_id", "embeddings"):
        if p.get(key):
            metadata[key] = clean_json(p[key])
    if not readable:
        metadata["upstream_answer_unreadable"] = True
    if body.get("tools"):
        metadata["tools_offered"] = [(t.get("function") or {}).get("name") for t in body["tools"]
                                     if isinstance(t, dict)]
        metadata["tools"] = body["tools"]  # names, schemas, descriptions: hashed at ingest (tools_sha256)
    fingerprint = _text(answer.get("system_fingerprint"), 200) if answer is not None else None
    if fingerprint:
        metadata["system_fingerprint"] = fingerprint
    model_resolved = _text(answer.get("model"), 200) if answer is not None else None
    model_resolved = model_resolved or body.get("model")
    retrieval = [{"id": doc_id.strip()[:500], "source": "x-fireline-retrieval"}
                 for doc_id in (p.get("retrieval") or "").split(",") if doc_id.strip()]
    return CallIn.model_validate({
        "id": p["id"], "app": p["app"], "tenant": p.get("tenant"), "session_id": p.get("session"),
        "environment": p.get("environment"),
        "user": p.get("user"), "model": p.get("model_requested"),
        "model_resolved": model_resolved, "retrieval": retrieval,
        "cost_usd": cost_usd(prices, model_resolved, input_tokens, output_tokens),
        "provider": "gateway", "prompt_version": p.get("prompt_version"),
        "system_prompt": "\n".join(system) if system else None,
        "input": messages, "output": output,
        "user_visible_output": _text(p.get("visible")),
        "tool_calls": tool_calls, "guardrails": clean_json(p.get("guardrails") or []),
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "latency_ms": p.get("latency_ms"), "status": p["status"], "api_key_id": p.get("api_key_id"),
        "started_at": datetime.fromtimestamp(p["started"], UTC), "metadata": metadata,
    })


def _tokens(value: Any) -> int | None:
    count = bounded_int(value)
    return count if count is not None and count <= INT32_MAX else None
