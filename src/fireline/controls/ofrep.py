"""OFREP (OpenFeature Remote Evaluation Protocol) over the control state.

`POST /ofrep/v1/evaluate/flags/{key}` and bulk `POST /ofrep/v1/evaluate/flags` (ETag and
If-None-Match -> 304), errors in OFREP's shape; answers come from the in-memory ControlBook.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.controls import flags
from fireline.controls.state import ControlState

router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"])
BODY_LIMIT = 64 * 1024


def _state(request: Request) -> ControlState:
    return request.app.state.controls.current()  # type: ignore[no-any-return]


async def _context(request: Request, key: str | None) -> tuple[Any, JSONResponse | None]:
    raw = await request.body()
    if len(raw) > BODY_LIMIT:
        return None, _error(key, "PARSE_ERROR", f"body is over {BODY_LIMIT} bytes", 400)
    if not raw.strip():
        return {}, None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, _error(key, "PARSE_ERROR", f"body is not valid JSON: {exc}", 400)
    if not isinstance(body, dict):
        return None, _error(key, "PARSE_ERROR", "body must be a JSON object with a context", 400)
    return body.get("context"), None


def _error(key: str | None, code: str, details: str, status: int) -> JSONResponse:
    body: dict[str, Any] = {"errorCode": code, "errorDetails": details}
    if key is not None:
        body = {"key": key, **body}
    return JSONResponse(body, status_code=status)


@router.post("/evaluate/flags/{key}")
async def evaluate_flag(key: str, request: Request, _: Principal = Depends(require("ingest"))) -> Response:
    context, problem = await _context(request, key)
    if problem is not None:
        return problem
    try:
        result = flags.evaluate(_state(request), key, context)
    except flags.FlagError as exc:
        return _error(key, exc.code, exc.details, exc.status)
    return JSONResponse(result)


@router.post("/evaluate/flags")
async def evaluate_flags(request: Request, _: Principal = Depends(require("ingest"))) -> Response:
    context, problem = await _context(request, None)
    if problem is not None:
        return problem
    state = _state(request)
    ctx_digest = hashlib.sha256(json.dumps(context, sort_keys=True, default=str).encode()).hexdigest()[:16]
    # active ids too: a control past its expiry changes answers before the expiry loop bumps the revision
    live = ",".join(c.id for c in state.active_at())
    state_digest = hashlib.sha256((json.dumps(state.apps_json(), sort_keys=True) + live).encode()).hexdigest()[:8]
    etag = f'"r{state.revision}-{state_digest}-{ctx_digest}"'
    if_none = request.headers.get("if-none-match")
    if if_none and (if_none.strip() == "*" or etag in [t.strip() for t in if_none.split(",")]):
        return Response(status_code=304, headers={"ETag": etag})
    try:
        result = flags.evaluate_all(state, context)
    except flags.FlagError as exc:
        return _error(None, exc.code, exc.details, exc.status)
    return JSONResponse({"flags": result}, headers={"ETag": etag})
