"""The gateway as a part: raw ASGI routes (no FastAPI dependency or validation layer on the hot
path), the aiohttp session and the writer started and stopped with the app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fireline import background
from fireline.config import Config
from fireline.config_keys import ConfigError, check_section
from fireline.gateway import routes
from fireline.gateway.prepare import check_priority
from fireline.gateway.proxy import GATEWAY_KEYS, Gateway
from fireline.gateway.responses import error, respond
from fireline.gateway.spool import Spool

log = logging.getLogger("fireline.gateway")


class _Endpoint:
    """A plain ASGI app (Starlette mounts non-function endpoints as-is)."""

    def __init__(self, method: str) -> None:
        self.method = method

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        gateway: Gateway = scope["app"].state.gateway
        await getattr(gateway, self.method)(scope, receive, send)


router = APIRouter()
router.routes.append(Route("/v1/chat/completions", _Endpoint("chat"), methods=["POST"], include_in_schema=False))
router.routes.append(Route("/v1/models", _Endpoint("models"), methods=["GET"], include_in_schema=False))


def check(config: Config) -> None:
    """Fail at start, naming the key, on a `gateway` key that nothing reads (a typo)."""
    section = config.section("gateway") or {}
    check_section(section, GATEWAY_KEYS, "gateway")
    if "prepare_priority" in section:
        try:
            check_priority(str(section["prepare_priority"]), "gateway.prepare_priority")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


class FastPath:
    """Dispatches the gateway paths before FastAPI's middleware and router (measured: they
    cost about half as much CPU again as the proxying itself); everything else passes through."""

    def __init__(self, inner: Any, gateway: Gateway) -> None:
        self.inner, self.gateway = inner, gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/v1/chat/completions" and method == "POST":
                await guarded(self.gateway.chat, scope, receive, send)
                return
            if path == "/v1/models" and method == "GET":
                await guarded(self.gateway.models, scope, receive, send)
                return
            handler = routes.route(self.gateway, path, method)  # the other OpenAI routes, OpenAI's 404/405
            if handler is not None:
                await guarded(handler, scope, receive, send)
                return
        await self.inner(scope, receive, send)


async def guarded(handler: Any, scope: Scope, receive: Receive, send: Send) -> None:
    started = False

    async def tracking_send(message: dict[str, Any]) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await handler(scope, receive, tracking_send)
    except Exception:
        log.exception("gateway request failed")
        if not started:
            await respond(send, 500, error("internal gateway error; see the server log", "api_error"))


async def startup_without_database(app: FastAPI) -> None:
    """The database is away at start: answer and spool every call, store none until `startup`
    (the writer then replays the spool, after the parts it feeds have started)."""
    gateway = await _serve(app, store=False)
    spool = gateway.writer.spool
    if spool is not None and spool.fsync == "interval":
        background.spawn(app, _sync_until_storing(gateway, spool), "gateway-spool-sync")


async def _sync_until_storing(gateway: Gateway, spool: Spool) -> None:
    """The writer thread fdatasyncs the spool every interval; until it runs, this does."""
    while gateway.writer.thread.ident is None:
        await asyncio.sleep(gateway.writer.fsync_interval)
        await asyncio.to_thread(spool.sync)


async def startup(app: FastAPI) -> None:
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is None:
        await _serve(app, store=True)
    else:  # serving since a start without the database, which is back
        gateway.writer.start()


async def _serve(app: FastAPI, *, store: bool) -> Gateway:
    gateway = app.state.gateway = Gateway(app)
    await gateway.start(store=store)
    # Starlette builds its middleware stack on the first ASGI call (the lifespan); wrap it.
    if getattr(app, "middleware_stack", None) is None:
        app.middleware_stack = app.build_middleware_stack()
    app.middleware_stack = FastPath(app.middleware_stack, gateway)
    return gateway


async def shutdown(app: FastAPI) -> None:
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is not None:
        await gateway.close()
