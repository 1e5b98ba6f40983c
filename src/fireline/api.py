"""The FastAPI application: mounts every part's router and maps domain errors to HTTP once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry

from fireline import __version__, background, metrics, native, openapi, wiring
from fireline.auth import service as keys
from fireline.calls.privacy import key_problem
from fireline.config import Config, get_config, get_settings
from fireline.config import data_dir as default_data_dir
from fireline.db import Database, DatabaseUnavailable, get_db, is_unavailable
from fireline.errors import FirelineError
from fireline.events import EventBus, where
from fireline.http import EngineSafe, domain_response, field_path, http_error_response, known_query, unexpected_response
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
    app.state.tasks = []
    started: list[Any] = []  # parts whose start hook ran
    try:
        if await _database_answers(app.state.db):
            await _start(app, started)
        else:  # serve the gateway now; the rest of the start waits for the database
            log.warning("the database does not answer: serving the gateway without it (calls are spooled); "
                        "the API answers 503 and the start completes when the database is back")
            app.state.outbox.db_up = False
            for part in app.state.parts:
                hook = getattr(part, "startup_without_database", None)
                if hook is not None:
                    await _run(hook, app)
                    started.append(part)
            background.spawn(app, _start_when_back(app, started), "start-up")
        # The privacy pass's word lists (~0.2 s to read) load now, not on the first call.
        await asyncio.to_thread(gazetteer.get)
        # Long-lived objects from start-up never need collecting again, and later collections than
        # the default keep the hot path free of frequent ones (a p99 matter for the gateway and ingest).
        # A young-generation pass costs about its size: 50,000 objects were 20-40 ms of CPU under
        # one-call ingest (bench/ingest_trace.py), 10,000 are 4-7 ms; the older generations are
        # collected as often as with 50,000 x 20 (every 1,000,000 objects, every 100 of those).
        # Only the young generations are collected before the freeze: a full collection here went
        # over ~226,000 objects (80-160 ms of CPU per start) to find about 10 unreachable ones (the
        # collections during the imports already took the rest); frozen or not, later collections
        # skip them alike.
        gc.collect(1)
        gc.freeze()
        gc.set_threshold(10_000, 100, 100)
        yield
    finally:
        # Every step runs even when one before it fails (or start-up stopped half way): a
        # process that keeps the leader's lock after it stopped serving would leave the
        # deployment without monitor alerts, SLA clocks and retention.
        for task in [t for t in app.state.tasks if t.get_name() == "start-up"]:  # no part starts past here
            await _cancelled(task)
        for part in reversed([p for p in app.state.parts if p in started]):  # the parts' order, whatever ran first
            hook = getattr(part, "shutdown", None)
            if hook is not None:
                try:
                    await _run(hook, app)
                except Exception as exc:
                    log.error("shutdown of %s failed: %s at %s", part.__name__, type(exc).__name__, where(exc))
        for task in app.state.tasks:
            await _cancelled(task)
        helper = getattr(app.state, "ingest_helper", None)
        if helper is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(helper.close)
        counter = getattr(app.state, "counter", None)
        if counter is not None:  # the shared counters' own connections (counters.PostgresCounter's pool)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(counter.close)
        try:
            await asyncio.to_thread(app.state.outbox.close)
        finally:
            await asyncio.to_thread(app.state.leader.stop)


async def _cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for its end, cancelling again while it goes on: on Python 3.11,
    `asyncio.wait_for` whose inner await completes as the cancellation arrives returns the result
    and drops the cancellation (CPython gh-86296), and a loop around it (the key revocation poll)
    then never ended, so the shutdown waited forever (seen in about one start-stop in five)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


async def _run(hook: Callable[[FastAPI], Awaitable[None] | None], app: FastAPI) -> None:
    result = hook(app)
    if asyncio.iscoroutine(result):
        await result


async def _start(app: FastAPI, started: list[Any]) -> None:
    """The start-up that needs the database: migrations, the admin key, the leader election, each
    part's startup in order, the outbox worker. After a start without the database it resumes
    from the step that failed, if the database goes away again half way."""
    db: Database = app.state.db
    done: set[Any] = app.state.start_done
    if "migrations" not in done:
        await asyncio.to_thread(db.upgrade)
        done.add("migrations")
    token = get_settings().admin_token
    if token and "admin" not in done:
        await asyncio.to_thread(_seed_admin, db, token)
        done.add("admin")
    if "leader" not in done:
        await asyncio.to_thread(app.state.leader.start)  # PostgreSQL: one process runs the once-only loops
        done.add("leader")
    for part in app.state.parts:
        if part in done:
            continue
        hook = getattr(part, "startup", None)
        if hook is not None:
            await _run(hook, app)
        done.add(part)
        if part not in started:
            started.append(part)
    background.spawn(app, app.state.outbox.run(), "outbox")
    app.state.started = True


def _seed_admin(db: Database, token: str) -> None:
    with db.writing() as session:
        keys.seed_admin(session, token)


def database_away(db: Database, exc: BaseException) -> bool:
    """The database server does not answer (refused, timed out, starting or stopping): a server
    starts without it. A wrong password or database name, or SQLite's file (a path that cannot
    be opened is a configuration mistake), stop the start as before."""
    if db.is_sqlite or not is_unavailable(exc):
        return False
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state is None or str(state).startswith(("08", "57P"))


def _probe(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


async def _database_answers(db: Database) -> bool:
    """Whether the database answers within FIRELINE_DB_START_PROBE_S (5 s by default; tried every
    second); raises what is not the database being away."""
    deadline = time.monotonic() + get_settings().db_start_probe_s
    while True:
        try:
            await asyncio.to_thread(_probe, db)
            return True
        except Exception as exc:
            if not database_away(db, exc):
                raise
            if time.monotonic() >= deadline:
                return False
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


async def _start_when_back(app: FastAPI, started: list[Any]) -> None:
    """Finish the start once the database answers: no restart needed. A failing step is logged
    (type and place), backed off and retried."""
    db: Database = app.state.db
    backoff = background.Backoff(1.0, cap=5.0)
    checked_key = False
    while True:
        try:
            await asyncio.to_thread(_probe, db)
            if not checked_key:  # what `serve` checks before it starts: a wrong key stores nothing
                problem = await asyncio.to_thread(key_problem, db)
                if problem:
                    raise WrongKey(problem)
                checked_key = True
            await _start(app, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, WrongKey) and backoff.failures == 0:
                log.error("the database is back but %s; the gateway keeps spooling", exc)
            await asyncio.sleep(1.0 if database_away(db, exc) else backoff.failed("start-up", exc))
            continue
        app.state.outbox.db_up = True
        log.warning("the database answers: start-up complete (migrations, leader election, background loops, "
                    "spool replay)")
        return


class WrongKey(Exception):
    """The configured key cannot open the database's encrypted content."""


class StartGate:
    """Until the start-up that needs the database is complete, every route but /healthz, /metrics
    and OFREP (served from the control state in memory) answers 503 with Retry-After: a
    half-started part must never answer 500. The gateway is dispatched before this and serves."""

    OPEN = ("/healthz", "/metrics")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["app"].state.started or path in self.OPEN or path.startswith("/ofrep/"):
            await self.app(scope, receive, send)
            return
        retry = DatabaseUnavailable.retry_after
        body = orjson.dumps({"detail": "the database is unavailable (the server started without it and completes "
                                       "its start when it is back); retry shortly", "retry_after": retry})
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                                (b"retry-after", b"%d" % retry)]})
        await send({"type": "http.response.body", "body": body})


def create_app(db: Database | None = None, config: Config | None = None, *,
               data_dir: Path | None = None) -> FastAPI:
    """data_dir: this server's local state (the gateway spool, the key-revocation epoch, the control
    and key snapshots for a start without the database);
    FIRELINE_DATA_DIR or beside a SQLite database by default."""
    app = FastAPI(title="Fireline", version=__version__, lifespan=lifespan,
                  description="Incident response for AI features in production.",
                  dependencies=[Depends(known_query)])  # a misspelt filter is a 422, not ignored
    app.state.db = db or get_db()
    app.state.config = config or get_config()
    app.state.data_dir = data_dir or default_data_dir()
    app.state.started = False  # the start-up that needs the database is complete (StartGate)
    app.state.start_done = set()
    keys.configure(app.state.data_dir)
    app.state.parts = parts()
    app.state.leader = Leadership(app.state.db.engine)
    check_config(app.state.config, app.state.parts)
    # One bus per app; every handler is subscribed in fireline.wiring, nowhere else.
    app.state.bus = app.state.db.bus = EventBus(on_failure=metrics.handler_failed)
    app.state.metrics = CollectorRegistry(auto_describe=True)  # this app's collectors (/metrics adds them)
    wiring.wire(app)
    metrics.HOT_PATH_COMPILED.set(native.state == "compiled")  # decided when fireline.pii was imported
    for part in app.state.parts:
        if getattr(part, "router", None) is not None:
            app.include_router(part.router)
    app.add_middleware(EngineSafe)  # the gateway's fast path is dispatched before it (own checks)
    app.add_middleware(StartGate)  # outermost: nothing else runs for a route that cannot answer yet
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]  # errors and limits documented

    @app.exception_handler(FirelineError)
    async def domain_error(_: Request, exc: FirelineError) -> Response:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": field_path([p for p in e["loc"] if p not in ("body", "query", "path")]),
                   "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse({"detail": f"{first['field']}: {first['message']}", "field": first["field"],
                             "errors": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return http_error_response(exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        return unexpected_response(exc)  # 503 + Retry-After when the database is down or slow, else 500

    return app


# Parts start their loops with this (kept here for the parts that import it from the factory).
spawn = background.spawn
