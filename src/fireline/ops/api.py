from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fireline import __version__
from fireline.metrics import REGISTRY

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness: 200 while this process serves, without asking the database. The gateway keeps
    answering through a database outage, so an orchestrator restarting it then would take the AI
    feature down. `database` is the last known state, from the outbox worker's last step (every
    0.5 s; while the database is away its retries back off up to 30 s, so "unavailable" can outlast
    an outage by that much; `fireline_database_up`).
    `start` is `waiting_for_database` while a server that started without its database serves the
    gateway only (docs/reliability.md), then `complete`."""
    up = request.app.state.outbox.db_up
    return {"status": "ok", "version": __version__,
            "database": "unknown" if up is None else "up" if up else "unavailable",
            "start": "complete" if request.app.state.started else "waiting_for_database"}


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> PlainTextResponse:
    """The process's counters, then this app's collectors (monitors, outbox, database)."""
    text = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics)
    return PlainTextResponse(text.decode(), media_type=CONTENT_TYPE_LATEST)
