"""Request plumbing shared by the routers: bounded bodies and readable validation errors."""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio
import orjson
from fastapi import HTTPException, Request
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fireline.db import DatabaseUnavailable, is_unavailable
from fireline.errors import FirelineError, Invalid
from fireline.metrics import REGISTRY
from fireline.validation import MAX_DEPTH, first_problem, text_problem

log = logging.getLogger("fireline")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it passes `limit` bytes (before it is all in memory)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('calls', 3, 'input', 0, 'role') -> 'calls[3].input[0].role'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def known_query(request: Request) -> None:
    """An app-wide dependency: a GET under /api/ with a query parameter its route does not read is
    a 422 naming it. FastAPI drops unknown parameters, so a misspelt filter (`calls/count?tenat=acme`)
    answered for every tenant instead of failing."""
    if request.method != "GET" or not request.url.path.startswith("/api/") or not request.query_params:
        return
    route: Any = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: frozenset[str] | None = getattr(route, "_fireline_query", None)
    if known is None:
        names: set[str] = set()
        stack = [dependant]
        while stack:  # the route's own parameters and those of its dependencies
            current = stack.pop()
            names.update(p.alias for p in current.query_params)
            stack.extend(current.dependencies)
        known = route._fireline_query = frozenset(names)  # computed once per route
    for name in request.query_params:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else "this path takes " + (", ".join(sorted(known)) or "none")
            raise Invalid(f"{name[:60]}: unknown query parameter; {hint}", field=name[:60])


def validation_error(exc: ValidationError) -> Invalid:
    errors = [{"field": field_path(e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
              for e in exc.errors(include_url=False)]
    first = errors[0]
    return Invalid(f"{first['field']}: {first['message']}", field=first["field"], errors=errors)


def ingest_limiter(app: Any) -> anyio.CapacityLimiter:
    """Ingest batches (native calls, OTLP) run one at a time: the work is CPU under the GIL, and
    threads competing for it cost more than they overlap (4 concurrent senders: 352 us of CPU per
    call; one batch at a time: 259 us, and 3,050 -> 3,900 calls/s)."""
    limiter = getattr(app.state, "ingest_limiter", None)
    if limiter is None:
        limiter = app.state.ingest_limiter = anyio.CapacityLimiter(1)
    return limiter


# ---- values the database would refuse, for every route without a check of its own ----

_PRESCAN = re.compile(rb"\\u0000|\\u[dD][89abAB]|\\u[dD][c-fC-F]|\d{19,}")
_SCANNED_BODY_LIMIT = 8 * 1024 * 1024
# Routes that check their own bodies (naming fields in their own shapes): native ingest walks the
# parsed batch, OTLP rejects the offending span in its partial-success answer.
_OWN_BODY_CHECK = ("/api/v1/calls", "/v1/traces", "/v1/logs", "/v1/metrics")


def _nesting_may_exceed(body: bytes) -> bool:
    return body.count(b"[") + body.count(b"{") > MAX_DEPTH


def body_problem(body: bytes) -> tuple[str, str] | None:
    """(field, reason) when a JSON body holds a value the engines refuse; cheap when it does not
    (a byte scan first; the parse and walk only on a hit)."""
    if not _PRESCAN.search(body) and not _nesting_may_exceed(body):
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # FastAPI's own parser accepts lone surrogates, which orjson refuses
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: the route answers its own 4xx
    return first_problem(value)


def query_problem(scope: Scope) -> tuple[str, str] | None:
    path = scope.get("path", "")
    reason = text_problem(path)
    if reason:
        return "path", reason
    raw = scope.get("query_string", b"")
    if raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            reason = text_problem(key) or text_problem(value)
            if reason:
                return key, reason
    return None


class EngineSafe:
    """ASGI middleware: a query parameter, path or JSON body holding a value the database refuses
    (NUL, lone surrogate, integer beyond 64 bits, nesting past validation.MAX_DEPTH) is answered
    422 naming the field before any route runs, so nothing of it reaches SQL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = query_problem(scope)
        if problem is not None:
            await _refuse(send, *problem)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH") or scope["path"] in _OWN_BODY_CHECK:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body") or size > _SCANNED_BODY_LIMIT:
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if size <= _SCANNED_BODY_LIMIT and messages[-1]["type"] == "http.request":
            problem = body_problem(body)
            if problem is not None:
                await _refuse(send, *problem)
                return
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, field: str, reason: str) -> None:
    body = orjson.dumps({"detail": f"{field}: {reason}", "field": field})
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


# ---- errors as the app's exception handlers answer them (fireline.api), shared with FastRoutes ----

def domain_response(exc: FirelineError) -> Response:
    retry = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry)} if retry is not None and exc.status in (429, 503) else None
    return JSONResponse({"detail": exc.message, **exc.details}, status_code=exc.status, headers=headers)


def http_error_response(exc: HTTPException) -> Response:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def unexpected_response(exc: BaseException) -> Response:
    """503 + Retry-After when the database is down or slow (the client should retry), else 500."""
    if is_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": "the database is unavailable; retry shortly"}, status_code=503,
                            headers={"Retry-After": str(DatabaseUnavailable.retry_after)})
    log.error("unhandled error", exc_info=exc)
    return PlainTextResponse("internal error; see the server log", status_code=500)


def error_response(exc: Exception) -> Response:
    if isinstance(exc, FirelineError):
        return domain_response(exc)
    if isinstance(exc, HTTPException):
        return http_error_response(exc)
    return unexpected_response(exc)


Handler = Callable[[Request], Awaitable[Response]]
FAST_ROUTES = Counter("fireline_fast_route_requests_total", "Requests to the hot ingest routes, answered by the raw "
                      "ASGI dispatch or passed to the FastAPI app", ["path", "via"], registry=REGISTRY)


class FastRoutes:
    """ASGI: the hot ingest routes (exact method and path) dispatched before FastAPI's middleware,
    router and dependency solving (measured: ~30 % of the serving process's GIL under one call
    per request). Each handler is the route's own function, given a Starlette Request, and its
    errors are answered by the app's handlers' functions above, so both ways answer alike. What
    the middleware would decide (the start gate, a query string EngineSafe checks) and every
    other request go to the app unchanged."""

    def __init__(self, inner: ASGIApp, routes: dict[tuple[str, str], Handler]) -> None:
        self.inner, self.routes = inner, routes
        self._served = {path: FAST_ROUTES.labels(path, "fast") for _, path in routes}
        self._passed = {path: FAST_ROUTES.labels(path, "app") for _, path in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.routes.get((scope["method"], scope["path"]))
            if handler is not None:
                if scope["app"].state.started and not scope.get("query_string"):
                    self._served[scope["path"]].inc()
                    await self._answer(handler, scope, receive, send)
                    return
                self._passed[scope["path"]].inc()
        await self.inner(scope, receive, send)

    @staticmethod
    async def _answer(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await handler(Request(scope, receive))
        except Exception as exc:
            response = error_response(exc)
        await response(scope, receive, send)


def install(app: Any, routes: dict[tuple[str, str], Handler]) -> FastRoutes:
    """Put `routes` in front of the app's middleware stack (built now if the first ASGI call has
    not built it yet); once per app."""
    current = getattr(app, "middleware_stack", None)
    if isinstance(current, FastRoutes):
        return current
    if current is None:
        current = app.build_middleware_stack()
    app.middleware_stack = fast = FastRoutes(current, routes)
    return fast
