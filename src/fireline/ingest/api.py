"""HTTP for ingest: OTLP/HTTP traces, logs and metrics, Alertmanager and PagerDuty receivers, change markers.

Auth: `Authorization: Bearer <key>` or `X-Fireline-Key: <key>` (role ingest or higher) on
every endpoint; PagerDuty also takes an ingest key as `routing_key` (docs/ingest.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, OperationalError

from fireline import background, http
from fireline.auth import service as keys
from fireline.auth.api import bearer, require
from fireline.auth.service import Principal
from fireline.calls import api as calls_api
from fireline.calls import service as calls_service
from fireline.calls.admission import Admission, BoundedThreads, Overloaded, max_wait
from fireline.calls.group import GroupCommit
from fireline.calls.schemas import CallIn
from fireline.config import Config
from fireline.config_keys import check_section
from fireline.db import Database, DatabaseUnavailable
from fireline.events import HandlerFailed
from fireline.http import ingest_limiter, read_body
from fireline.ingest import alertmanager, alerts, changes, logs, otlp, pagerduty
from fireline.metrics import INTAKE_UNAVAILABLE
from fireline.openapi import json_body
from fireline.signals import Alert
from fireline.validation import Instant

log = logging.getLogger("fireline.ingest")
router = APIRouter(tags=["ingest"])
KEY_HEADER = "x-fireline-key"
MAX_ALERT_BODY = 4 * 1024 * 1024
MAX_GROUP_CALLS = 1000  # an OTLP group stops taking exports once it holds this many calls


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _section(request: Request, name: str) -> Any:
    return request.app.state.config.section(name)


def presented_key(request: Request) -> str | None:
    return bearer(request) or (request.headers.get(KEY_HEADER) or "").strip() or None


def _authenticate(request: Request, key: str | None) -> Principal | None:
    if not key:
        return None
    principal = keys.authenticate(_db(request).sessionmaker, key)
    return principal if principal is not None and principal.can("ingest") else None


async def _authenticate_async(request: Request, key: str | None) -> Principal | None:
    """From memory when the key was checked lately, else in a worker thread (not on the loop)."""
    if not key:
        return None
    fresh, principal = keys.cached(key)
    if not fresh:
        return await run_in_threadpool(_authenticate, request, key)
    return principal if principal is not None and principal.can("ingest") else None


def ingest_key(request: Request) -> Principal:
    """Bearer or X-Fireline-Key, role ingest or higher (every role is)."""
    key = presented_key(request)
    if not key:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key> or X-Fireline-Key: <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = _authenticate(request, key)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def _json(request: Request) -> Any:
    body = await read_body(request, MAX_ALERT_BODY)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None


# ---- OTLP/HTTP ----

def _otlp_error(status: int, message: str, encoding: str, headers: dict[str, str] | None = None) -> Response:
    code = {400: 3, 401: 16, 413: 8, 415: 3, 503: 14}.get(status, 2)  # google.rpc.Code
    safe = message.encode("ascii", "replace").decode()[:300].replace("\n", " ")
    return Response(otlp.encode_status(code, message, encoding), status_code=status, media_type=encoding,
                    headers={"X-Fireline-Error": safe, **(headers or {})})


def _otlp_body(message: str, top: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object", "description": f"an {message}",
                                        "properties": {top: {"type": "array", "items": {"type": "object"}}}}}}}}


OTLP_BODY = _otlp_body("ExportTraceServiceRequest", "resourceSpans")
OTLP_LOGS_BODY = _otlp_body("ExportLogsServiceRequest", "resourceLogs")
OTLP_METRICS_BODY = _otlp_body("ExportMetricsServiceRequest", "resourceMetrics")
PD_EVENT = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["event_action"], "description": "a PagerDuty Events API v2 event",
    "properties": {"routing_key": {"type": "string"}, "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
                   "dedup_key": {"type": "string", "maxLength": 255}, "payload": {"type": "object"}}}}}}}


async def _otlp_request(request: Request) -> tuple[str, bytes, bool, int] | Response:
    """Content type, key, encoding and size checked: (encoding, body, gzipped, limit), or the error answer."""
    try:
        encoding = otlp.encoding_of(request.headers.get("content-type"))
    except otlp.Unsupported as exc:
        return _otlp_error(415, str(exc), otlp.JSON)
    key = presented_key(request)
    if await _authenticate_async(request, key) is None:
        why = "invalid or revoked API key" if key else "missing API key"
        return _otlp_error(401, f"{why}: send Authorization: Bearer <key> or X-Fireline-Key: <key>", encoding,
                           {"WWW-Authenticate": "Bearer"})
    conf = _section(request, "ingest") or {}
    limit = int(float(conf.get("otlp_max_body_mb", 64)) * 1024 * 1024)
    gzip = (request.headers.get("content-encoding") or "identity").strip().lower()
    if gzip not in ("gzip", "identity", ""):
        return _otlp_error(415, f"content encoding {gzip} is not supported: use gzip or none", encoding)
    try:
        body = await read_body(request, limit)
    except HTTPException as exc:
        return _otlp_error(exc.status_code, str(exc.detail), encoding)
    return encoding, body, gzip == "gzip", limit


class _EventsWaiting:
    """`logs.any_waiting` once per group of exports, not once per export: a group's exports are parsed
    one after another in its thread, and a query each (a pooled connection's ping, then the query)
    was 40 % of that thread's time on PostgreSQL at 500 one-span exports/s (bench/ingest_trace.py).
    Events that come after a group's check wait as they would after its commit: a call left without
    its content claims them then (`_fill_late`)."""

    def __init__(self, group: GroupCommit) -> None:
        self.group, self.answer = group, (-1, False)

    def __call__(self, db: Database) -> bool:
        if self.answer[0] != self.group.takes:
            self.answer = (self.group.takes, logs.any_waiting(db))
        return self.answer[1]


def otlp_group(app: Any) -> tuple[GroupCommit, anyio.CapacityLimiter]:
    """The app's group commit of OTLP traces (as native ingest's, calls.api.group_commit): exports
    arriving while one is stored are decoded, mapped and stored together, one transaction for all."""
    group = getattr(app.state, "otlp_group", None)
    if group is None:
        db: Database = app.state.db
        group = app.state.otlp_group = (
            GroupCommit(lambda batch: calls_service.ingest_prepared(db, batch, source="otlp", publish=False),
                        max_calls=MAX_GROUP_CALLS, offload=getattr(app.state, "ingest_helper", None), source="otlp",
                        after=lambda outcome: calls_service.publish_ingested(db, outcome, "otlp"),
                        max_wait=max_wait(app.state.config)),
            anyio.CapacityLimiter(64))
        app.state.otlp_events_waiting = _EventsWaiting(group[0])
    return group  # type: ignore[no-any-return]


def _otlp_failed(exc: Exception, encoding: str) -> Response:
    """The OTLP answer to a failed export: 400 undecodable, 503 + Retry-After while the database is
    unavailable (exporters retry 503); anything else is raised again for the app's handlers."""
    if isinstance(exc, otlp.Malformed):
        return _otlp_error(400, str(exc), encoding)
    if isinstance(exc, Overloaded):  # refused before anything of it was read: the exporter retries
        return _otlp_error(503, exc.message, encoding, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, OperationalError | DatabaseUnavailable):
        log.warning("OTLP ingest could not write: the database is unavailable")
        return _otlp_error(503, "the database is unavailable; retry", encoding,
                           {"Retry-After": str(DatabaseUnavailable.retry_after)})
    raise exc


def otlp_threads(app: Any) -> BoundedThreads:
    """OTLP logs and metrics exports, each stored in a worker thread one at a time (http.ingest_limiter),
    under ingest's bound on how long queued work may wait (`ingest.max_wait_s`, calls.admission)."""
    threads: BoundedThreads | None = getattr(app.state, "otlp_threads", None)
    if threads is None:
        threads = app.state.otlp_threads = BoundedThreads(ingest_limiter(app),
                                                          Admission(max_wait(app.state.config), "otlp"))
    return threads


async def _otlp_run(request: Request, encoding: str, work: Any) -> Any:
    try:
        return await otlp_threads(request.app).run(work)
    except Exception as exc:
        return _otlp_failed(exc, encoding)


@router.post("/v1/traces", openapi_extra=OTLP_BODY)
async def otlp_traces(request: Request) -> Response:
    """OTLP/HTTP ExportTraceServiceRequest, protobuf or JSON, optionally gzip-compressed."""
    got = await _otlp_request(request)
    if isinstance(got, Response):
        return got
    encoding, zipped, gzipped, limit = got
    db, config = _db(request), request.app.state.config
    group, threads = otlp_group(request.app)
    events_waiting: _EventsWaiting = request.app.state.otlp_events_waiting
    done: list[tuple[otlp.Mapped, dict[str, Any]]] = []

    def parse(body: bytes) -> list[CallIn]:  # in the thread that stores the group
        req = otlp.decode(otlp.gunzip(body, limit) if gzipped else body, encoding)
        waiting = logs.take(db, otlp.span_ids(req)) if events_waiting(db) else {}
        done.append((otlp.map_request(req, config, waiting), waiting))
        return done[0][0].calls

    try:  # the export waits for its group's commit holding no thread (as native ingest does)
        await group.answer(zipped, parse)
    except Exception as exc:
        if done and done[0][1]:  # the span is retried by its exporter: its events wait again
            await anyio.to_thread.run_sync(logs.put_back, db, done[0][1], limiter=threads)
        return _otlp_failed(exc, encoding)
    mapped = done[0][0]
    # Events that arrived while the span was being stored (a logs export that found no call
    # yet) are claimed now: for every call still missing some content, not only empty ones,
    # since one export of events may have been merged and the next one be waiting.
    unfilled = [c for c in mapped.calls if c.output is None or not c.input]
    if unfilled:
        try:
            await anyio.to_thread.run_sync(_fill_late, db, unfilled, limiter=threads)
        except Exception as exc:
            return _otlp_failed(exc, encoding)
    return Response(otlp.encode_response(mapped.rejected, mapped.message(), encoding), media_type=encoding)


def _fill_late(db: Database, unfilled: list[CallIn]) -> None:
    """Stored calls missing content whose GenAI events came meanwhile get them now."""
    if logs.any_waiting(db):
        logs.fill_late(db, unfilled)


@router.post("/v1/logs", openapi_extra=OTLP_LOGS_BODY)
async def otlp_logs(request: Request) -> Response:
    """OTLP/HTTP ExportLogsServiceRequest: GenAI events joined to the calls of their spans."""
    got = await _otlp_request(request)
    if isinstance(got, Response):
        return got
    encoding, zipped, gzipped, limit = got
    db, config = _db(request), request.app.state.config

    def work() -> logs.LogsOutcome:
        grouped, out = logs.map_logs(logs.decode_logs(otlp.gunzip(zipped, limit) if gzipped else zipped, encoding))
        logs.ingest_logs(db, config, grouped, out)
        return out

    out = await _otlp_run(request, encoding, work)
    if isinstance(out, Response):
        return out
    return Response(logs.response("logs", out.rejected, out.message(), encoding), media_type=encoding)


@router.post("/v1/metrics", openapi_extra=OTLP_METRICS_BODY)
async def otlp_metrics(request: Request) -> Response:
    """OTLP/HTTP ExportMetricsServiceRequest: acknowledged; GenAI client metrics counted."""
    got = await _otlp_request(request)
    if isinstance(got, Response):
        return got
    encoding, zipped, gzipped, limit = got

    def work() -> int:
        return logs.ingest_metrics(logs.decode_metrics(otlp.gunzip(zipped, limit) if gzipped else zipped, encoding))

    done = await _otlp_run(request, encoding, work)
    if isinstance(done, Response):
        return done
    return Response(logs.response("metrics", 0, "", encoding), media_type=encoding)


# ---- alerts ----

@router.post("/api/v1/alerts/alertmanager", openapi_extra=json_body(alertmanager.AmWebhook))
async def alertmanager_webhook(request: Request, _: Principal = Depends(ingest_key)) -> dict[str, Any]:
    """An Alertmanager webhook (version 4): a firing group fires one alert per groupKey."""
    hook = alertmanager.parse(await _json(request))
    topic, alert = alertmanager.to_alert(hook, _section(request, "alertmanager"))
    if not await _recorded(request, topic, alert):
        raise HTTPException(503, "the incident could not be recorded; retry (the dedup key makes a retry safe)",
                            headers={"Retry-After": "5"})
    return {"status": "ok", "event": topic, "dedup_key": alert.dedup_key, "severity": alert.severity,
            "type": alert.type, "apps": list(alert.apps), "alerts": len(hook.alerts)}


async def _recorded(request: Request, topic: str, alert: Alert) -> bool:
    """Hand the alert to the incidents part; False when it could not be recorded, so the
    receiver answers 503 and the sender (Alertmanager, a PagerDuty client) retries."""
    try:
        await run_in_threadpool(alerts.publish, _db(request), topic, alert)
    except (HandlerFailed, DBAPIError) as exc:
        INTAKE_UNAVAILABLE.labels(alert.source).inc()
        log.error("%s intake: %s not recorded (%s); answered 503", alert.source, alert.dedup_key,
                  type(exc.__cause__ or exc).__name__)
        return False
    return True


def _pd(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/api/v1/alerts/pagerduty", status_code=202, openapi_extra=PD_EVENT)
# /v2/enqueue: a sender pointed at Fireline instead of events.pagerduty.com
@router.post("/v2/enqueue", status_code=202, openapi_extra=PD_EVENT)
async def pagerduty_event(request: Request) -> Response:
    """A PagerDuty Events API v2 body; answers as events.pagerduty.com/v2/enqueue does."""
    raw = await read_body(request, MAX_ALERT_BODY)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _pd(400, pagerduty.InvalidEvent(["Event object is not valid JSON"]).body())
    header_key = presented_key(request)
    routing = body.get("routing_key") if isinstance(body, dict) else None
    if await _authenticate_async(request, header_key or (routing if isinstance(routing, str) else None)) is None:
        why = "the Bearer / X-Fireline-Key key is invalid" if header_key else \
            "send a Fireline ingest key as routing_key, Authorization: Bearer or X-Fireline-Key"
        return _pd(401, {"status": "unauthorized", "message": why, "errors": [why]})
    try:
        event = pagerduty.validate(body)
    except pagerduty.InvalidEvent as exc:
        return _pd(400, exc.body())
    topic, dedup, alert = pagerduty.to_alert(event, _section(request, "pagerduty"))
    if not await _recorded(request, topic, alert):
        body = {"status": "unavailable", "message": "the incident could not be recorded; retry",
                "errors": ["the incident could not be recorded; retry with the same dedup_key"]}
        return Response(orjson.dumps(body), status_code=503, media_type="application/json",
                        headers={"Retry-After": "5"})
    return _pd(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})


# ---- change markers ----

@router.post("/api/v1/changes", status_code=201)
def record_change(body: changes.ChangeIn, request: Request, who: Principal = Depends(ingest_key)) -> dict[str, Any]:
    with _db(request).writing() as session:
        return changes.ChangeOut.of(changes.record(session, body, recorded_by=who.key_id)).dump()


@router.get("/api/v1/changes")
def list_changes(request: Request, app: str | None = None, kind: str | None = None, since: Instant | None = None,
                 until: Instant | None = None, limit: int = Query(100, ge=1, le=changes.MAX_LIST),
                 _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with _db(request).session() as session:
        rows = changes.search(session, app=app, kind=kind, since=since, until=until, limit=limit)
        return {"changes": [changes.ChangeOut.of(r).dump() for r in rows]}


def change_evidence(session: Any, incident: Any, **_: Any) -> dict[str, Any]:
    """The evidence source "changes": change markers of the 24 h before detection."""
    detected = getattr(incident, "detected_at", None)
    apps = getattr(incident, "apps", None)
    if isinstance(apps, str):  # the incident row keeps its apps space-separated
        apps = apps.split()
    apps = [a for a in apps if isinstance(a, str)] if isinstance(apps, list | tuple) else None
    return changes.evidence(session, onset=detected if isinstance(detected, datetime) else None, apps=apps or None)


def check(config: Config) -> None:
    """Fail at start, naming the key, on an `ingest`, `alertmanager` or `pagerduty` key that nothing
    reads (a typo)."""
    check_section(config.section("ingest"), {"otlp_event_ttl_s": "positive", "otlp_max_body_mb": "positive",
                                             "prepare_process": "bool", "max_wait_s": "positive"}, "ingest")
    check_section(config.section("alertmanager"), alertmanager.KEYS, "alertmanager")
    check_section(config.section("pagerduty"), pagerduty.KEYS, "pagerduty")


def startup(app: Any) -> None:
    """Native ingest and OTLP traces answered before FastAPI (http.FastRoutes: the routes' own
    functions, without the router and dependency solving), and GenAI events whose span never came
    deleted after `ingest.otlp_event_ttl_s` (default 1 h)."""
    http.install(app, {("POST", "/api/v1/calls"): calls_api.ingest_fast, ("POST", "/v1/traces"): otlp_traces})
    ttl = float((app.state.config.section("ingest") or {}).get("otlp_event_ttl_s", 3600))
    background.spawn(app, background.every("otlp-pending-events", background.in_thread(logs.purge_expired,
                                                                                         app.state.db, ttl),
                                            min(ttl, 300.0), cap=600.0), "otlp-pending-events")
