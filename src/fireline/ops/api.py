from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from fireline import __version__
from fireline.metrics import REGISTRY

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    with request.app.state.db.session() as session:
        session.execute(text("select 1"))
    return {"status": "ok", "version": __version__}


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> PlainTextResponse:
    """The process's counters, then this app's collectors (monitors, outbox, database)."""
    text = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics)
    return PlainTextResponse(text.decode(), media_type=CONTENT_TYPE_LATEST)
