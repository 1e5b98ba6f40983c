"""Real receivers on loopback for the comms tests (an HTTP server and an SMTP server), calls
stored with chosen findings, and waiting helpers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from fireline.calls import service as calls_service
from fireline.calls.schemas import CallIn
from fireline.config import Config
from fireline.db import Database, utcnow
from fireline.serving import free_port

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST; `script[path]` is a list of (status, delay_s) answered in turn, then 200/202."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    rec = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with rec.lock:
                rec.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                steps = rec.script.get(self.path) or []
                status, delay = steps.pop(0) if steps else (202 if self.path.startswith("/pd") else 200, 0.0)
            time.sleep(delay)
            out = b'{"status":"success"}' if status < 400 else b'{"error":"scripted failure"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def comms_config(http: HttpReceiver | None = None, smtp_port: int | None = None, **extra: Any) -> Config:
    channels: dict[str, Any] = {}
    if http is not None:
        channels |= {"hook": {"type": "webhook", "url": f"{http.url}/hook", "secret": "s3cret"},
                     "chat": {"type": "slack", "url": f"{http.url}/slack"},
                     "pager": {"type": "pagerduty", "routing_key": "R0UT1NG", "url": f"{http.url}/pd"}}
    if smtp_port is not None:
        channels["mail"] = {"type": "email", "host": "127.0.0.1", "port": smtp_port,
                            "from": "fireline@example.com", "to": ["oncall@example.com"]}
    notifications: dict[str, Any] = {"channels": channels, "retry": {"attempts": 3, "base_delay_s": 0.05},
                                     "timeout_s": 2, "poll_interval_s": 0.05, **extra.pop("notifications", {})}
    comms = {"check_interval_s": 0.1, "dpo_contact": "DPO, dpo@example.com", "organisation": "Example Ltd",
             **extra.pop("comms", {})}
    apps = {"support-bot": {"public": True}, "billing-bot": {"public": True}}  # customer-facing: on the status page
    return Config.model_validate({"apps": apps, "notifications": notifications,
                                  "comms": comms, "auto_contain": {}, **extra})


def store_calls(db: Database, specs: list[dict[str, Any]]) -> list[str]:
    """Calls stored with exactly the findings given (no detectors, no monitors)."""
    prepared = []
    now = utcnow()
    for i, spec in enumerate(specs):
        spec = dict(spec)
        found = spec.pop("findings", [])
        body = {"id": f"call-{i}", "app": "support-bot", "tenant": "acme-tenant", "session_id": f"sess-{i}",
                "user": f"user{i}@example.com", "model": "gpt-4o", "model_resolved": "gpt-4o-2024-08-06",
                "prompt_version": "v12", "system_prompt": "You are the support bot.",
                "input": [{"role": "user", "content": f"Where is my order {i}?"}],
                "output": f"Sure, bob{i}@example.com, it ships tomorrow.",
                "started_at": (T0 + timedelta(minutes=i)).isoformat(), **spec}
        p = calls_service.prepare(CallIn.model_validate(body), now)
        p.findings = list(found)
        p.row["finding_count"] = len(found)
        prepared.append(p)
    return [p.id for p in calls_service.store(db, prepared)]


def pii_leak(entity: str = "EMAIL_ADDRESS") -> dict[str, Any]:
    return {"detector": "pii", "kind": "pii_leak", "entity": entity, "severity": "P1", "confidence": 0.9,
            "location": "output", "item": None, "start": 6, "end": 22, "evidence": "Sure, <EMAIL_ADDRESS>, it"}


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
