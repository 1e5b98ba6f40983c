"""`GET /api/v1/controls/stream`: server-sent events of the control state.

The first event (`event: state`) carries the full state; each change then sends `event: change`
with the full new state, `id:` being its revision. Comments keep idle connections alive. A
stream ends after `controls.stream_max_s` (clients reconnect; EventSource does so itself) so a
server shutdown is never held up for long by connected SDKs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.controls.state import ControlBook, ControlState

router = APIRouter(prefix="/api/v1/controls", tags=["controls"])


def event(state: ControlState, name: str) -> bytes:
    data = orjson.dumps(state.to_json()).decode()
    return f"id: {state.revision}\nevent: {name}\ndata: {data}\n\n".encode()


def settings(request: Request) -> dict[str, Any]:
    return dict(request.app.state.config.section("controls") or {})


async def _events(book: ControlBook, queue: asyncio.Queue[ControlState], closing: asyncio.Event,
                  keepalive: float, max_s: float) -> AsyncIterator[bytes]:
    try:
        state = book.current()
        yield b"retry: 500\n\n" + event(state, "state")
        sent = state.revision
        ends = time.monotonic() + max_s
        while not closing.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                return
            try:
                new = await asyncio.wait_for(queue.get(), timeout=min(keepalive, left))
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            while not queue.empty():  # coalesce a burst into its latest state
                new = queue.get_nowait()
            if new.revision != sent:
                sent = new.revision
                yield event(new, "change")
    finally:
        book.unsubscribe(queue)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {
                "type": "object", "description": "each event: the control state (revision, controls, apps)"}}}}})
async def stream(request: Request, _: Principal = Depends(require("ingest"))) -> StreamingResponse:
    book: ControlBook = request.app.state.controls
    queue = book.subscribe()
    conf = settings(request)
    closing: asyncio.Event = request.app.state.controls_closing
    body = _events(book, queue, closing, float(conf.get("keepalive_s", 15.0)),
                   float(conf.get("stream_max_s", 300.0)))
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
