"""Open-loop traffic for the reliability suite: requests start on a fixed schedule (a slow
server does not slow the sender down), each outcome is recorded with the ids it was answered
with, and the log is then checked for every answered or acknowledged call."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from sqlalchemy import select

from fireline.calls.models import Call
from fireline.db import Database

_seq = itertools.count()


@dataclass
class Outcome:
    kind: str  # gateway | native | poison-gateway | poison-native
    started: float
    ended: float
    status: int | None  # None: no answer (connection refused or cut)
    ids: list[str] = field(default_factory=list)
    error: str | None = None
    detail: str = ""

    @property
    def answered_2xx(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def chat_body(i: int) -> dict[str, Any]:
    return {"model": "gpt-4o-2024-08-06", "user": f"user{i % 50}@example.com",
            "messages": [{"role": "system", "content": "You are ACME support."},
                         {"role": "user", "content": f"Where is my order A-{i}? My e-mail is c{i}@example.com"}]}


def native_call(i: int, prefix: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{i}", "app": "support-bot", "tenant": "acme", "user": f"user{i % 50}@example.com",
            "model": "gpt-4o-2024-08-06", "input": [{"role": "user", "content": f"question {i}"}],
            "output": f"answer {i}", "input_tokens": 12, "output_tokens": 9}


class Http:
    """A small aiohttp client (httpx's pool turns quadratic with hundreds of queued requests)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url, self.session = base_url, session

    async def post(self, path: str, body: bytes, headers: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        async with self.session.post(self.base_url + path, data=body, headers=headers) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()


Request = Callable[[Http, int], Any]


async def raw_post(base_url: str, path: str, headers: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request written byte for byte (header values that are not UTF-8 included)."""
    host, port = base_url.split("//", 1)[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = [f"POST {path} HTTP/1.1".encode(), f"Host: {host}".encode(), b"Connection: close",
            b"Content-Length: %d" % len(body)]
    head += [k.encode() + b": " + (v if isinstance(v, bytes) else str(v).encode()) for k, v in headers.items()]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    top, _, payload = data.partition(b"\r\n\r\n")
    lines = top.split(b"\r\n")
    status = int(lines[0].split()[1])
    pairs = (ln.partition(b":") for ln in lines[1:])
    rh = {k.decode().lower(): v.decode(errors="replace").strip() for k, _, v in pairs}
    return status, rh, payload


async def gateway_call(http: Http, i: int, key: str, *, kind: str = "gateway", body: Any = None,
                       headers: dict[str, Any] | None = None, content: bytes | None = None) -> Outcome:
    t0 = time.monotonic()
    hdrs = {"Authorization": f"Bearer {key}", "X-Fireline-App": "support-bot", "X-Fireline-Tenant": "acme",
            "Content-Type": "application/json", **(headers or {})}
    data = content if content is not None else orjson.dumps(body if body is not None else chat_body(i))
    try:
        if any(isinstance(v, bytes) for v in hdrs.values()):
            status, rh, text = await raw_post(http.base_url, "/v1/chat/completions", hdrs, data)
        else:
            status, rh, text = await http.post("/v1/chat/completions", data, hdrs)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Outcome(kind, t0, time.monotonic(), None, error=type(exc).__name__)
    call_id = rh.get("x-fireline-call-id")
    return Outcome(kind, t0, time.monotonic(), status, [call_id] if call_id else [],
                   detail=text[:300].decode(errors="replace") if status >= 300 else "")


async def native_batch(http: Http, i: int, key: str, *, size: int = 5, prefix: str = "n",
                       calls: list[dict[str, Any]] | None = None, kind: str = "native") -> Outcome:
    t0 = time.monotonic()
    batch = calls if calls is not None else [native_call(i * size + j, prefix) for j in range(size)]
    try:
        status, rh, text = await http.post("/api/v1/calls", json.dumps({"calls": batch}).encode(),
                                           {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome(kind, t0, time.monotonic(), None, error=type(exc).__name__)
    ids = list(orjson.loads(text).get("ids", [])) if status == 201 else []
    out = Outcome(kind, t0, time.monotonic(), status, ids,
                  detail=text[:300].decode(errors="replace") if status != 201 else "")
    if status == 503:
        out.detail = f"retry-after={rh.get('retry-after')}"
    return out


def client(base_url: str, concurrency: int = 400) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                 timeout=aiohttp.ClientTimeout(total=30, connect=5))


async def open_loop(base_url: str, rate: float, duration: float, request: Request, *,
                    concurrency: int = 400) -> list[Outcome]:
    """`rate` requests per second for `duration` seconds, each started on schedule."""
    results: list[Outcome] = []
    async with client(base_url, concurrency) as session:
        http = Http(base_url, session)
        start = time.monotonic()
        tasks = []
        n = int(rate * duration)
        for k in range(n):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(request(http, next(_seq))))
        results = list(await asyncio.gather(*tasks))
    return results


def stored(db: Database, ids: list[str]) -> set[str]:
    found: set[str] = set()
    with db.session() as s:
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            found.update(s.scalars(select(Call.id).where(Call.id.in_(chunk))))
    return found


def wait_stored(db: Database, ids: list[str], timeout: float = 90.0) -> set[str]:
    """The ids of `ids` found in the log, waiting (up to `timeout`) for the writer to catch up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = stored(db, ids)
        except Exception:  # the database is still coming back
            found = set()
        if len(found) == len(set(ids)) or time.monotonic() > deadline:
            return found
        time.sleep(0.25)
