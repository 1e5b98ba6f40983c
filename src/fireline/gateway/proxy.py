"""The OpenAI-compatible proxy: raw ASGI endpoints, aiohttp to the upstream, controls inline.

Hot path per call: header dict, cached key check, orjson parse, one O(1) control lookup, the
upstream round trip on a keep-alive pool, relay, and one deque append for the background
writer. Nothing on it touches the database (bar a key-cache miss every few seconds).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from fireline.auth import service as keys
from fireline.auth.service import Principal
from fireline.config import AppConfig, data_dir, get_settings
from fireline.config_keys import Kind
from fireline.db import DatabaseUnavailable
from fireline.detect.service import policy_engine
from fireline.gateway import checks
from fireline.gateway.call import Call
from fireline.gateway.checks import header_text
from fireline.gateway.inline import InlineDetectors
from fireline.gateway.prepare import Helper
from fireline.gateway.responses import Receive, Reply, Send, error, read_body, respond
from fireline.gateway.spool import Spool
from fireline.gateway.writer import CallWriter

log = logging.getLogger("fireline.gateway")
FORWARD_PREFIX = b"x-upstream-"


# The tunables of the `gateway` section, as read below.
GATEWAY_KEYS: dict[str, Kind] = {
    "batch_size": "positive", "connect_timeout_s": "positive", "flush_interval_s": "positive",
    "key_check_timeout_s": "positive", "max_queue": "positive", "prepare_process": "bool", "spool": "bool",
    "spool_fsync": "text", "spool_fsync_interval_s": "positive", "spool_max_mb": "positive",
    "spool_segment_mb": "positive", "switch_interval_s": "positive", "timeout_s": "positive",
    "prepare_priority": "text", "prepare_late_s": "positive",
}
# The serving process hands the GIL over at most this often while its writer thread holds it
# (CPython's default is 5 ms: a request arriving while the writer prepares waited up to that).
SWITCH_INTERVAL_S = 0.0005


class Gateway:
    def __init__(self, app: Any) -> None:
        state = app.state
        self.state = state
        self.db = state.db
        self.config = state.config
        settings = get_settings()
        section = self.config.section("gateway") or {}
        self.upstream = (getattr(state, "upstream_url", None) or settings.upstream_url or "").rstrip("/")
        self.upstream_key = getattr(state, "upstream_key", None) or settings.upstream_key or ""
        self.timeout = aiohttp.ClientTimeout(total=None, connect=float(section.get("connect_timeout_s", 5)),
                                             sock_read=float(section.get("timeout_s", 120)))
        spool = None
        if section.get("spool", True):
            spool = Spool(Path(getattr(state, "data_dir", None) or data_dir()) / "spool",
                          fsync=str(section.get("spool_fsync", "interval")),
                          segment_bytes=int(float(section.get("spool_segment_mb", 64)) * 1024 * 1024))
        detect = getattr(state, "detect", None)
        self.writer = CallWriter(self.db, self.config, spool=spool, batch_size=int(section.get("batch_size", 500)),
                                 max_queue=int(section.get("max_queue", 100_000)),
                                 flush_interval=float(section.get("flush_interval_s", 0.05)),
                                 fsync_interval=float(section.get("spool_fsync_interval_s", 1.0)),
                                 max_spool_bytes=int(float(section.get("spool_max_mb", 10240)) * 1024 * 1024),
                                 helper=Helper(self.config, screen=detect is not None,
                                               priority=str(section.get("prepare_priority", "idle")),
                                               late_s=float(section.get("prepare_late_s", 5.0)))
                                 if section.get("prepare_process", True) else None,
                                 canaries=detect.canaries.tokens if detect is not None else None)
        self.detectors = InlineDetectors(self.config.detectors, detect.canaries.tokens if detect else None)
        # The declared policies: the detect part's compiled set (one copy per process), else our own.
        self.policies = detect.detection.policies if detect else policy_engine(self.config, self.detectors.detectors)
        self.switch_interval = float(section.get("switch_interval_s", SWITCH_INTERVAL_S))
        self.key_check_timeout = float(section.get("key_check_timeout_s", 2.0))
        self.session: aiohttp.ClientSession | None = None
        self.apps: dict[str, AppConfig] = {}

    async def start(self, *, store: bool = True) -> None:
        """store=False: calls go to the spool only, until `writer.start()` (a start while the
        database is away: the writer would replay before the parts it feeds have started)."""
        # The writer thread holds the GIL while it stores a batch; a shorter switch interval
        # (CPython default 5 ms) lets the event loop take it back sooner: lower p99 at equal CPU.
        sys.setswitchinterval(self.switch_interval)
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, raise_for_status=False)
        if store:
            self.writer.start()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.writer.thread.ident is not None:
            await asyncio.to_thread(self.writer.stop)
        elif self.writer.spool is not None:  # it never stored (no database yet): the next start replays all
            await asyncio.to_thread(self.writer.spool.sync)
            self.writer.spool.close()
        if self.writer.thread.ident is None and self.writer.memory:  # the spool refused them (disk full)
            log.error("gateway: %d calls that could not be spooled were not stored at shutdown",
                      len(self.writer.memory))

    def app_config(self, name: str) -> AppConfig:
        cfg = self.apps.get(name)
        if cfg is None:
            cfg = self.apps[name] = self.config.app(name)
        return cfg

    def explicit_fallback(self, name: str) -> str | None:
        cfg = self.config.apps.get(name)
        return cfg.fallback if cfg is not None and "fallback" in cfg.model_fields_set else None

    def upstream_headers(self, headers: dict[bytes, bytes]) -> dict[str, str]:
        out = {"Content-Type": "application/json"}
        if self.upstream_key:
            out["Authorization"] = f"Bearer {self.upstream_key}"
        app = headers.get(b"x-fireline-app")
        if app:
            out["X-Fireline-App"] = app.decode("latin-1")
        for key, value in headers.items():
            if key.startswith(FORWARD_PREFIX):  # forwarded byte for byte
                out[key.decode("latin-1")] = value.decode("latin-1")
        return out

    async def check_key(self, headers: dict[bytes, bytes]) -> Principal:
        """From memory on the hot path; a key not checked lately is checked in a worker thread
        with a deadline (never on the event loop), falling back to its last known answer."""
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() != b"bearer " or not auth[7:].strip():
            raise Reply(401, error("missing API key: send Authorization: Bearer <Fireline key>",
                                   code="invalid_api_key"), [(b"www-authenticate", b"Bearer")])
        key = auth[7:].strip().decode("latin-1")
        fresh, principal = keys.cached(key)
        if not fresh:
            try:
                principal = await asyncio.wait_for(
                    asyncio.to_thread(keys.authenticate, self.db.sessionmaker, key), self.key_check_timeout)
            except (TimeoutError, DatabaseUnavailable):
                if principal is None:
                    raise Reply(503, error("the key cannot be checked while the database is unavailable; retry "
                                           "shortly", "api_error", "service_unavailable"),
                                [(b"retry-after", b"5")]) from None
        if principal is None:
            raise Reply(401, error("invalid or revoked API key", code="invalid_api_key"),
                        [(b"www-authenticate", b"Bearer")])
        return principal

    async def models(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        try:
            await self.check_key(headers)
            assert self.session is not None
            if not self.upstream:
                raise Reply(502, error("no upstream configured (FIRELINE_UPSTREAM_URL)", "api_error"))
            try:
                async with self.session.get(self.upstream + "/models", headers=self.upstream_headers(headers)) as r:
                    body, status = await r.read(), r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Reply(502, error(f"upstream unreachable: {type(exc).__name__}", "api_error")) from None
            await respond(send, status, body)
        except Reply as r:
            await respond(send, r.status, r.body, headers=r.headers)

    async def chat(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        started = time.time()
        headers = dict(scope["headers"])
        try:
            principal = await self.check_key(headers)
            raw = await read_body(receive)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Reply(400, error(f"body is not valid JSON: {exc}")) from None
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise Reply(400, error("body must be a JSON object with a 'messages' list", code="invalid_body"))
            try:  # everything the log keeps must be storable: refuse it now, naming the field
                attribution = {name: header_text(headers, name) for name in ATTRIBUTION_HEADERS}
                checks.check_body(body)
            except checks.BadRequest as bad:
                raise Reply(400, error(bad.message, code="invalid_value", param=bad.param)) from None
            if not self.upstream:
                raise Reply(502, error("no upstream configured (FIRELINE_UPSTREAM_URL)", "api_error"))
            if self.writer.full():
                raise Reply(503, error("the gateway's call log is backed up; retry shortly", "api_error"),
                            [(b"retry-after", b"1")])
        except Reply as r:
            await respond(send, r.status, r.body, headers=r.headers)
            return
        await Call(self, headers, attribution, body, raw, t0, started, principal.key_id).run(send)


ATTRIBUTION_HEADERS = (b"x-fireline-app", b"x-fireline-user", b"x-fireline-tenant", b"x-fireline-session",
                       b"x-fireline-prompt-version", b"x-fireline-cohort", b"x-fireline-retrieval",
                       b"x-fireline-route", b"x-fireline-environment")
