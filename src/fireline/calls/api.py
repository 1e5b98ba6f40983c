"""HTTP for the prompt log: ingest, search, read (redacted or raw), erasure."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.calls import dead_letters, pricing, retention, search, service
from fireline.calls.admission import max_wait
from fireline.calls.group import GroupCommit
from fireline.calls.models import RawAccess
from fireline.calls.schemas import INT32_MAX, MAX_BATCH, Batch, CallIn, CallOut, CallPage, ErasureReport, Status
from fireline.config import Config
from fireline.db import Database, utcnow
from fireline.errors import Invalid
from fireline.http import read_body, validation_error
from fireline.openapi import json_body
from fireline.validation import Instant, check_json

router = APIRouter(prefix="/api/v1", tags=["calls"])
_one = TypeAdapter(CallIn)
_batch = TypeAdapter(Batch)
MAX_BODY = 32 * 1024 * 1024


def check(config: Config) -> None:
    """Fail at start, naming the field, on a bad `pricing` section."""
    pricing.check_config(config)


def parse_calls(payload: Any) -> list[CallIn]:
    """One call or {"calls": [...]}; a batch with any invalid item is rejected whole (422
    naming `calls[i].field`), including values the database would refuse (NUL, 64-bit overflow,
    nesting deeper than validation.MAX_DEPTH), before anything reaches SQL."""
    check_json(payload)
    try:
        if isinstance(payload, dict) and "calls" in payload and "app" not in payload:
            if isinstance(payload["calls"], list) and len(payload["calls"]) > MAX_BATCH:
                raise Invalid(f"calls: a batch holds at most {MAX_BATCH} calls", field="calls")
            return _batch.validate_python(payload).calls
        return [_one.validate_python(payload)]
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_body(body: bytes) -> list[CallIn]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"body is not valid JSON: {exc}") from None
    return parse_calls(payload)


def group_commit(app: Any) -> GroupCommit:
    """The app's one group commit of native ingest (requests arriving together share a transaction;
    with `ingest.prepare_process`, their bodies are parsed and their calls prepared in a helper process)."""
    group = getattr(app.state, "ingest_group", None)
    if group is None:
        db: Database = app.state.db
        group = app.state.ingest_group = GroupCommit(lambda batch: service.ingest_prepared(db, batch, publish=False),
                                                     parse_body, max_calls=MAX_BATCH,
                                                     offload=getattr(app.state, "ingest_helper", None),
                                                     after=lambda outcome: service.publish_ingested(db, outcome),
                                                     max_wait=max_wait(app.state.config))
    return group  # type: ignore[no-any-return]


@router.post("/calls", status_code=201, openapi_extra=json_body(CallIn | Batch))
async def ingest_calls(request: Request, _: Principal = Depends(require("ingest"))) -> Response:
    body = await read_body(request, MAX_BODY)
    # Parsing, validation and the privacy pass (in the helper process with `ingest.prepare_process`),
    # then detectors and the write, in the group's thread, one group of requests at a time
    # (calls.group); the request waits without holding a thread and is answered once it is committed.
    outcome = await group_commit(request.app).answer(body)
    result: dict[str, Any] = {"accepted": len(outcome.inserted), "duplicates": outcome.duplicates,
                              "ids": outcome.ids}
    if outcome.dead:  # refused by the database on their own; the rest of the batch is stored
        result["dead_lettered"] = [{"id": d.call_id, "reason": d.reason} for d in outcome.dead]
    return Response(orjson.dumps(result), status_code=201, media_type="application/json")


_ingest_key = require("ingest")


async def ingest_fast(request: Request) -> Response:
    """`POST /api/v1/calls` as http.FastRoutes serves it (before FastAPI): the route's own key check
    and body, so both ways answer alike."""
    return await ingest_calls(request, await _ingest_key(request))


def call_filter(
    since: Instant | None = None, until: Instant | None = None, app: str | None = None,
    model: str | None = None, prompt_version: str | None = None, tenant: str | None = None,
    session: str | None = Query(None, alias="session"), session_id: str | None = None,
    user: str | None = None, user_pseudonym: str | None = None,
    status: Status | None = None,  # a misspelt status is a 422 naming the four, not an empty page
    q: str | None = None, text: str | None = None, detector: str | None = None,
    finding: str | None = None, environment: str | None = None, trace_id: str | None = None,
    api_key_id: str | None = Query(None, max_length=64),
) -> search.CallFilter:
    return search.CallFilter(since=since, until=until, app=app, model=model, prompt_version=prompt_version,
                              tenant=tenant, session_id=session or session_id, user=user,
                              user_pseudonym=user_pseudonym, status=status, text=q or text,
                              detector=detector, finding_kind=finding, environment=environment,
                              trace_id=trace_id, api_key_id=api_key_id)


@router.get("/calls", response_model=CallPage)
def search_calls(request: Request, flt: search.CallFilter = Depends(call_filter),
                 limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
                 _: Principal = Depends(require("viewer"))) -> CallPage:
    with get_db(request).session() as session:
        rows, next_cursor = search.search(session, flt, limit=limit, cursor=cursor)
        found = service.findings_for(session, (r.id for r in rows))
        return CallPage(calls=[service.to_out(r, found[r.id]) for r in rows], next_cursor=next_cursor)


@router.get("/calls/count")
def count_calls(request: Request, flt: search.CallFilter = Depends(call_filter),
                _: Principal = Depends(require("viewer"))) -> dict[str, int]:
    with get_db(request).session() as session:
        return {"count": search.count(session, flt)}


@router.get("/calls/{call_id:path}", response_model=CallOut)  # client-chosen ids may hold "/"
def get_call(call_id: str, request: Request, raw: bool | None = None, reason: str | None = None,
             who: Principal = Depends(require("viewer"))) -> CallOut:
    """Redacted for viewers; raw (and logged) for responders and admins unless raw=false."""
    want_raw = who.can("responder") if raw is None else raw
    if want_raw and not who.can("responder"):
        raise HTTPException(403, "raw content needs a key of role responder or higher")
    reason = reason or request.headers.get("x-fireline-reason")
    with get_db(request).writing() as session:
        call = service.get(session, call_id)
        findings = service.findings_for(session, [call_id])[call_id]
        if want_raw:
            content = service.read_raw(session, call, actor=who.key_id, role=who.role, reason=reason)
            if content is not None:
                return service.to_out(call, findings, content, view="raw")
        return service.to_out(call, findings)


@router.get("/access-log")
def access_log(request: Request, call_id: str | None = None, limit: int = Query(100, ge=1, le=1000),
               _: Principal = Depends(require("admin"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        rows = service.access_log(session, call_id, limit)
        return {"entries": [{"call_id": r.call_id, "actor": r.actor, "role": r.role, "at": r.at,
                             "reason": r.reason} for r in rows]}


@router.delete("/subjects/{user:path}", response_model=ErasureReport)  # user ids may hold "/"
def erase_subject(user: str, request: Request, pseudonym: bool = False,
                  who: Principal = Depends(require("responder"))) -> ErasureReport:
    with get_db(request).writing() as session:
        return retention.erase_subject(session, user, actor=who.key_id, is_pseudonym=pseudonym)


@router.get("/erasures")
def list_erasures(request: Request, status: str | None = Query(None, pattern="^(queued|done)$"),
                  limit: int = Query(100, ge=1, le=1000),
                  _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Erasure requests that legal hold blocked: `queued` until the hold is released, then `done`."""
    with get_db(request).session() as session:
        return {"erasures": retention.erasure_requests(session, status=status, limit=limit)}


@router.get("/dead-letters")
def list_dead_letters(request: Request, source: str | None = None, since: Instant | None = None,
                      limit: int = Query(100, ge=1, le=1000),
                      _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Calls that could not be stored (the rest of their batch was), newest first, with the reason."""
    with get_db(request).session() as session:
        rows = dead_letters.listing(session, source=source, since=since, limit=limit)
        return {"dead_letters": [dead_letters.to_out(r) for r in rows]}


@router.get("/dead-letters/{dead_id}")
def get_dead_letter(request: Request, dead_id: int = Path(ge=1, le=INT32_MAX), content: bool = False,
                    reason: str | None = None, who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """One dead letter; `content=true` decrypts the record (written to the access log)."""
    with get_db(request).writing() as session:
        row = dead_letters.get(session, dead_id)
        out = dead_letters.to_out(row)
        if content:
            out["record"] = dead_letters.content(row)
            session.add(RawAccess(call_id=row.call_id or f"dead-letter-{row.id}", actor=who.key_id, role=who.role,
                                  at=utcnow(), reason=reason or request.headers.get("x-fireline-reason")))
        return out
