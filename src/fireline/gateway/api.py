"""The gateway as a part: raw ASGI routes (no FastAPI dependency or validation layer on the hot
path), the aiohttp session and the writer started and stopped with the app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import Route

from fireline.gateway.proxy import Gateway


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


async def startup(app: FastAPI) -> None:
    app.state.gateway = Gateway(app)
    await app.state.gateway.start()


async def shutdown(app: FastAPI) -> None:
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is not None:
        await gateway.close()
