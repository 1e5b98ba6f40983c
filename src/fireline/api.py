"""The FastAPI application: mounts every part's router and maps domain errors to HTTP once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry

from fireline import __version__, background, metrics, openapi, wiring
from fireline.auth import service as keys
from fireline.config import Config, get_config, get_settings
from fireline.config import data_dir as default_data_dir
from fireline.db import Database, DatabaseUnavailable, get_db, is_unavailable
from fireline.errors import FirelineError
from fireline.events import EventBus, where
from fireline.http import EngineSafe, field_path, known_query
from fireline.leader import Leadership
from fireline.pii import gazetteer

log = logging.getLogger("fireline")

# Parts add their routers and background loops here (see `parts()` below).
Startup = Callable[[FastAPI], Awaitable[None] | None]
Shutdown = Callable[[FastAPI], Awaitable[None] | None]


def parts() -> list[Any]:
    """The part modules that contribute routers: each has `router`, optionally `startup`/`shutdown`."""
    from fireline.auth import api as auth_api
    from fireline.calls import api as calls_api
    from fireline.calls import tasks as calls_tasks
    from fireline.comms import api as comms_api
    from fireline.comms import status as comms_status
    from fireline.controls import api as controls_api
    from fireline.detect import api as detect_api
    from fireline.drills import api as drills_api
    from fireline.evals import api as evals_api
    from fireline.gateway import api as gateway_api
    from fireline.incidents import api as incidents_api
    from fireline.ingest import api as ingest_api
    from fireline.investigate import api as investigate_api
    from fireline.ops import api as ops_api
    from fireline.postmortems import api as postmortems_api
    from fireline.web import api as web_api

    return [auth_api, calls_api, calls_tasks, controls_api, detect_api, gateway_api, comms_api, comms_status,
            postmortems_api, incidents_api, ingest_api, evals_api, investigate_api, drills_api, ops_api, web_api]


def check_config(config: Config, modules: list[Any] | None = None) -> None:
    """Each part checks its config sections (values, and keys nobody reads), so a mistake is one
    clear line (ConfigError or Invalid, naming the field) before the server starts."""
    for part in parts() if modules is None else modules:
        check = getattr(part, "check", None)
        if check is not None:
            check(config)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db: Database = app.state.db
    await asyncio.to_thread(db.upgrade)
    token = get_settings().admin_token
    if token:
        with db.writing() as session:
            keys.seed_admin(session, token)
    app.state.tasks = []
    app.state.leader.start()  # PostgreSQL: one process of the deployment runs the once-only loops
    started: list[Any] = []
    try:
        for part in app.state.parts:
            hook = getattr(part, "startup", None)
            if hook is not None:
                result = hook(app)
                if asyncio.iscoroutine(result):
                    await result
            started.append(part)
        background.spawn(app, app.state.outbox.run(), "outbox")
        # The privacy pass's word lists (~0.2 s to read) load now, not on the first call.
        await asyncio.to_thread(gazetteer.get)
        # Long-lived objects from start-up never need collecting again, and fewer, later collections
        # keep the hot path free of multi-millisecond GC pauses (a p99 matter for the gateway).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        yield
    finally:
        # Every step runs even when one before it fails (or start-up stopped half way): a
        # process that keeps the leader's lock after it stopped serving would leave the
        # deployment without monitor alerts, SLA clocks and retention.
        for part in reversed(started):
            hook = getattr(part, "shutdown", None)
            if hook is not None:
                try:
                    result = hook(app)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception as exc:
                    log.error("shutdown of %s failed: %s at %s", part.__name__, type(exc).__name__, where(exc))
        for task in app.state.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        helper = getattr(app.state, "ingest_helper", None)
        if helper is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(helper.close)
        try:
            await asyncio.to_thread(app.state.outbox.close)
        finally:
            await asyncio.to_thread(app.state.leader.stop)


def create_app(db: Database | None = None, config: Config | None = None, *,
               data_dir: Path | None = None) -> FastAPI:
    """data_dir: this server's local state (the gateway spool, the key-revocation epoch);
    FIRELINE_DATA_DIR or beside a SQLite database by default."""
    app = FastAPI(title="Fireline", version=__version__, lifespan=lifespan,
                  description="Incident response for AI features in production.",
                  dependencies=[Depends(known_query)])  # a misspelt filter is a 422, not ignored
    app.state.db = db or get_db()
    app.state.config = config or get_config()
    app.state.data_dir = data_dir or default_data_dir()
    keys.configure(app.state.data_dir)
    app.state.parts = parts()
    app.state.leader = Leadership(app.state.db.engine)
    check_config(app.state.config, app.state.parts)
    # One bus per app; every handler is subscribed in fireline.wiring, nowhere else.
    app.state.bus = app.state.db.bus = EventBus(on_failure=metrics.handler_failed)
    app.state.metrics = CollectorRegistry(auto_describe=True)  # this app's collectors (/metrics adds them)
    wiring.wire(app)
    for part in app.state.parts:
        if getattr(part, "router", None) is not None:
            app.include_router(part.router)
    app.add_middleware(EngineSafe)  # the gateway's fast path is dispatched before it (own checks)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]  # errors and limits documented

    @app.exception_handler(FirelineError)
    async def domain_error(_: Request, exc: FirelineError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None and exc.status in (429, 503) else None
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": field_path([p for p in e["loc"] if p not in ("body", "query", "path")]),
                   "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse({"detail": f"{first['field']}: {first['message']}", "field": first["field"],
                             "errors": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse | PlainTextResponse:
        if is_unavailable(exc):  # the database is down or slow: the client should retry, not give up
            log.warning("database unavailable: %s", type(exc).__name__)
            return JSONResponse({"detail": "the database is unavailable; retry shortly"}, status_code=503,
                                headers={"Retry-After": str(DatabaseUnavailable.retry_after)})
        log.exception("unhandled error")
        return PlainTextResponse("internal error; see the server log", status_code=500)

    return app


# Parts start their loops with this (kept here for the parts that import it from the factory).
spawn = background.spawn
