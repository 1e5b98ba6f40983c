"""The gateway's routes besides the proxied calls: one model, the upstream's stored responses
(passed through, key checked, not logged), and OpenAI's 404/405 error shape for every other
`/v1/...` path (OTLP's /v1/traces, /v1/logs and /v1/metrics are not the gateway's)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from fireline.gateway.apis import ROUTES, handle
from fireline.gateway.proxy import Gateway
from fireline.gateway.responses import Reply, error, read_body, respond

Send = Any
Receive = Any


async def model(gw: Gateway, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """GET /v1/models/{id}: the upstream's answer."""
    headers = dict(scope["headers"])
    name = scope["path"][len("/v1/models/"):]
    try:
        await gw.check_key(headers)
        assert gw.session is not None
        if not gw.upstream:
            raise Reply(502, error("no upstream configured (FIRELINE_UPSTREAM_URL)", "api_error"))
        try:
            async with gw.session.get(gw.upstream + "/models/" + urllib.parse.quote(name, safe=""),
                                      headers=gw.upstream_headers(headers)) as r:
                body, status = await r.read(), r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Reply(502, error(f"upstream unreachable: {type(exc).__name__}", "api_error",
                                   "upstream_error")) from None
        if status != 200:
            try:
                shaped = isinstance(orjson.loads(body).get("error"), dict)
            except (orjson.JSONDecodeError, AttributeError):
                shaped = False
            if not shaped:
                body = error(f"upstream answered HTTP {status}", "api_error", "upstream_error")
        await respond(send, status, body)
    except Reply as r:
        await respond(send, r.status, r.body, headers=r.headers)


async def stored(gw: Gateway, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """GET|DELETE /v1/responses/{id}, GET .../input_items, POST .../cancel: the upstream's stored
    responses, passed through with the caller's key checked (not calls: nothing is logged)."""
    headers = dict(scope["headers"])
    method = scope["method"]
    try:
        await gw.check_key(headers)
        assert gw.session is not None
        if not gw.upstream:
            raise Reply(502, error("no upstream configured (FIRELINE_UPSTREAM_URL)", "api_error"))
        rest = "/".join(urllib.parse.quote(p, safe="") for p in scope["path"][len("/v1/"):].split("/"))
        query = scope.get("query_string") or b""
        url = gw.upstream + "/" + rest + ("?" + query.decode("latin-1") if query else "")
        data = await read_body(receive) if method == "POST" else None
        try:
            async with gw.session.request(method, url, data=data, headers=gw.upstream_headers(headers)) as r:
                body, status = await r.read(), r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Reply(502, error(f"upstream unreachable: {type(exc).__name__}", "api_error",
                                   "upstream_error")) from None
        await respond(send, status, body if status == 200 or _shaped(body) else
                      error(f"upstream answered HTTP {status}", "api_error", "upstream_error"))
    except Reply as r:
        await respond(send, r.status, r.body, headers=r.headers)


def _shaped(body: bytes) -> bool:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)


def _stored_route(path: str, method: str) -> bool:
    parts = path[len("/v1/responses/"):].split("/")
    if not parts[0] or len(parts) > 2:
        return False
    if len(parts) == 1:
        return method in ("GET", "DELETE")
    return (parts[1], method) in (("input_items", "GET"), ("cancel", "POST"))


GATEWAY_PATHS = {"/v1/chat/completions": "POST", "/v1/models": "GET", **{p: "POST" for p in ROUTES}}
OTLP_PATHS = frozenset({"/v1/traces", "/v1/logs", "/v1/metrics"})


async def unknown(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    if path in GATEWAY_PATHS or path.startswith("/v1/models/"):
        allowed = GATEWAY_PATHS.get(path, "GET")
        await respond(send, 405, error(f"{method} is not allowed on {path}; use {allowed}",
                                       code="method_not_allowed"), headers=[(b"allow", allowed.encode())])
        return
    await respond(send, 404, error(f"Unknown request URL: {method} {path[:200]}. Fireline's gateway serves "
                                   "/v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings and "
                                   "/v1/models.", code="unknown_url"))


def route(gw: Gateway, path: str, method: str) -> Callable[[Any, Any, Any], Any] | None:
    """The handler of a gateway path (OTLP's /v1 paths are not the gateway's: None)."""
    api = ROUTES.get(path)
    if api is not None and method == "POST":
        return lambda scope, receive, send: handle(gw, api, scope, receive, send)
    if path.startswith("/v1/models/") and len(path) > len("/v1/models/") and method == "GET":
        return lambda scope, receive, send: model(gw, scope, receive, send)
    if path.startswith("/v1/responses/") and _stored_route(path, method):
        return lambda scope, receive, send: stored(gw, scope, receive, send)
    if path.startswith("/v1/") and path not in OTLP_PATHS:
        return unknown
    return None
