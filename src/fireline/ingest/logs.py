"""OTLP/HTTP logs and metrics.

Logs: GenAI events sent as log records (`gen_ai.user.message`, `gen_ai.choice`, ...,
`gen_ai.client.inference.operation.details`; what opentelemetry-instrumentation-openai-v2 sends
with content capture set to `event_only`) are joined to the call of their span by trace and span
id, in either arrival order:
- the span's call is stored already: its missing content is filled (calls.amend.fill);
- not yet: the events wait, encrypted, in `otlp_pending_events`; the traces endpoint merges them
  into the call when the span arrives (`take`), and checks again after storing, so two requests
  racing in two processes still meet. Events whose span never comes are purged after a TTL.
Other log records are acknowledged and not stored (Fireline is not a log store).

Metrics: acknowledged; GenAI client metrics (`gen_ai.client.token.usage`,
`gen_ai.client.operation.duration`) are counted into Prometheus series (fireline.metrics REGISTRY)
by app, model and token type; everything else is counted by data points only.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from prometheus_client import Counter
from sqlalchemy import delete, select

from fireline.calls import amend, privacy
from fireline.calls.models import Call
from fireline.config import Config
from fireline.db import Database, utcnow
from fireline.ingest import spans
from fireline.ingest.attrs import any_value, as_str, attributes
from fireline.ingest.models import PendingEvents
from fireline.ingest.otlp import PROTOBUF, Malformed, _hex, _objs
from fireline.metrics import REGISTRY

GENAI_TOKENS = Counter("fireline_otlp_genai_tokens_total",
                       "Tokens reported by OTLP GenAI client metrics (gen_ai.client.token.usage)",
                       ["app", "model", "type"], registry=REGISTRY)
GENAI_OPERATIONS = Counter("fireline_otlp_genai_operations_total",
                           "Operations reported by OTLP GenAI client metrics (gen_ai.client.operation.duration)",
                           ["app", "model"], registry=REGISTRY)
GENAI_SECONDS = Counter("fireline_otlp_genai_operation_seconds_total",
                        "Operation seconds reported by OTLP GenAI client metrics", ["app", "model"],
                        registry=REGISTRY)
METRIC_POINTS = Counter("fireline_otlp_metric_points_total", "OTLP metric data points received",
                        ["kind"], registry=REGISTRY)
EVENTS = Counter("fireline_otlp_genai_events_total", "GenAI events received as OTLP log records, by outcome",
                 ["outcome"], registry=REGISTRY)
GENAI_METRICS = ("gen_ai.client.token.usage", "gen_ai.client.operation.duration")
CUMULATIVE = 2  # AggregationTemporality


def _decode(body: bytes, encoding: str, msg: Message, what: str, top: str) -> Any:
    if encoding == PROTOBUF:
        try:
            msg.ParseFromString(body)
        except DecodeError as exc:
            raise Malformed(f"body is not a valid {what} protobuf: {exc}") from None
        return msg
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed(f"body must be a JSON object (an {what})")
    if top == "logs":
        for rl in _objs(data.get("resourceLogs", data.get("resource_logs"))):
            for sl in _objs(rl.get("scopeLogs", rl.get("scope_logs"))):
                for rec in _objs(sl.get("logRecords", sl.get("log_records"))):
                    for key in ("traceId", "trace_id", "spanId", "span_id"):
                        if key in rec:
                            rec[key] = _hex(rec[key])
    else:  # exemplars carry ids too
        for rm in _objs(data.get("resourceMetrics", data.get("resource_metrics"))):
            for sm in _objs(rm.get("scopeMetrics", rm.get("scope_metrics"))):
                for m in _objs(sm.get("metrics")):
                    for kind in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
                        for dp in _objs((m.get(kind) or {}).get("dataPoints") if isinstance(m.get(kind), dict)
                                        else None):
                            for ex in _objs(dp.get("exemplars")):
                                for key in ("traceId", "spanId"):
                                    if key in ex:
                                        ex[key] = _hex(ex[key])
    try:
        json_format.ParseDict(data, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise Malformed(f"body is not a valid OTLP JSON {what}: {exc}") from None
    return msg


def decode_logs(body: bytes, encoding: str) -> ExportLogsServiceRequest:
    return _decode(body, encoding, ExportLogsServiceRequest(), "ExportLogsServiceRequest", "logs")


def decode_metrics(body: bytes, encoding: str) -> ExportMetricsServiceRequest:
    return _decode(body, encoding, ExportMetricsServiceRequest(), "ExportMetricsServiceRequest", "metrics")


def response(kind: str, rejected: int, message: str, encoding: str) -> bytes:
    resp: Message = ExportLogsServiceResponse() if kind == "logs" else ExportMetricsServiceResponse()
    if rejected or message:
        ps = resp.partial_success  # type: ignore[attr-defined]
        if kind == "logs":
            ps.rejected_log_records = rejected
        else:
            ps.rejected_data_points = rejected
        ps.error_message = message
    if encoding == PROTOBUF:
        return resp.SerializeToString()
    return json_format.MessageToJson(resp, indent=None).encode()


# ---- logs ----

@dataclass(slots=True)
class LogsOutcome:
    events: int = 0
    joined: int = 0  # events added to a stored call
    waiting: int = 0  # events waiting for their span
    rejected: int = 0
    ignored: int = 0  # log records that are not GenAI events
    errors: list[str] = field(default_factory=list)

    def message(self) -> str:
        return "; ".join(self.errors[:3]) + (f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else "")


def event_of(rec: Any) -> spans.Event | None:
    """A log record as a GenAI event (name, attributes with the body as "body"), else None."""
    attrs = attributes(rec.attributes)
    name = rec.event_name or as_str(attrs.get("event.name"), 200) or ""
    if not (name.startswith("gen_ai.") or name == "guardrail"):
        return None
    if rec.HasField("body"):
        attrs["body"] = any_value(rec.body)
    return name, attrs


def map_logs(req: ExportLogsServiceRequest) -> tuple[dict[str, list[spans.Event]], LogsOutcome]:
    """GenAI events grouped by the call id of their span (as the traces endpoint names calls)."""
    out = LogsOutcome()
    grouped: dict[str, list[spans.Event]] = {}
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                try:
                    event = event_of(rec)
                except Exception as exc:  # one unreadable record is rejected, never the export
                    out.rejected += 1
                    out.errors.append(f"log record unreadable ({type(exc).__name__})")
                    continue
                if event is None:
                    out.ignored += 1
                    continue
                if len(rec.trace_id) != 16 or len(rec.span_id) != 8 or not any(rec.span_id):
                    out.rejected += 1
                    out.errors.append(f"{event[0]}: a GenAI event needs the trace_id and span_id of its span "
                                      "(emit it inside the span's context)")
                    continue
                out.events += 1
                grouped.setdefault(call_id(rec.trace_id, rec.span_id), []).append(event)
    return grouped, out


def call_id(trace_id: bytes, span_id: bytes) -> str:
    return f"otlp-{trace_id.hex()}-{span_id.hex()}"


def _found(events: list[spans.Event], app: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The content the events carry, as call fields, and metadata (finish reasons)."""
    empty = SimpleNamespace(events=(), name="", status=SimpleNamespace(code=0, message=""))
    call = spans.llm_call(empty, {}, app, None, logged=events)
    meta = {k: v for k, v in call["metadata"].items() if k == "finish_reasons"}
    return {k: call.get(k) for k in amend.FILLABLE}, meta


def ingest_logs(db: Database, config: Config, grouped: dict[str, list[spans.Event]], out: LogsOutcome) -> None:
    if not grouped:
        return
    ids = list(grouped)
    with db.session() as session:
        stored = dict(session.execute(select(Call.id, Call.app).where(Call.id.in_(ids))).tuples().all())
    for cid, events in grouped.items():
        if cid in stored:
            _fill(db, cid, stored[cid], events, out)
    waiting = {cid: evs for cid, evs in grouped.items() if cid not in stored}
    if waiting:
        now = utcnow()
        with db.writing() as session:
            session.add_all(PendingEvents(call_id=cid, received_at=now, blob=privacy.encrypt({"events": evs}))
                            for cid, evs in waiting.items())
        # The span may have been stored meanwhile (another request, another process): meet it now.
        with db.session() as session:
            late = dict(session.execute(select(Call.id, Call.app).where(Call.id.in_(list(waiting)))).tuples().all())
        for cid, evs in take(db, list(late)).items():
            _fill(db, cid, late[cid], evs, out)
            waiting.pop(cid, None)
        out.waiting += sum(len(evs) for evs in waiting.values())
        EVENTS.labels("waiting").inc(sum(len(evs) for evs in waiting.values()))


def _fill(db: Database, cid: str, app: str, events: list[spans.Event], out: LogsOutcome) -> None:
    found, meta = _found(events, app)
    amend.fill(db, cid, found, meta)
    out.joined += len(events)
    EVENTS.labels("joined").inc(len(events))


def take(db: Database, ids: list[str]) -> dict[str, list[spans.Event]]:
    """Claim the waiting events of these calls (deleted as they are read: each is used once)."""
    if not ids:
        return {}
    out: dict[str, list[spans.Event]] = {}
    with db.writing() as session:
        rows = session.execute(select(PendingEvents.id, PendingEvents.call_id, PendingEvents.blob)
                               .where(PendingEvents.call_id.in_(ids)).order_by(PendingEvents.id)).all()
        if not rows:
            return {}
        claimed = session.execute(delete(PendingEvents).where(PendingEvents.id.in_([r[0] for r in rows]))
                                  .returning(PendingEvents.id)).scalars().all()
        mine = set(claimed)
    for rid, cid, blob in rows:
        if rid in mine:
            out.setdefault(cid, []).extend((str(n), dict(a)) for n, a in privacy.decrypt(blob)["events"])
    return out


def purge_expired(db: Database, ttl_s: float) -> int:
    """Events whose span never arrived, older than the TTL: deleted (counted as expired)."""
    with db.writing() as session:
        gone = session.execute(delete(PendingEvents).where(
            PendingEvents.received_at < utcnow() - timedelta(seconds=ttl_s)).returning(PendingEvents.id)).all()
    if gone:
        EVENTS.labels("expired").inc(len(gone))
    return len(gone)


def any_waiting(db: Database) -> bool:
    """One cheap query: are any events waiting at all (most exports find none)."""
    with db.session() as session:
        return session.scalar(select(PendingEvents.id).limit(1)) is not None


def put_back(db: Database, waiting: dict[str, list[spans.Event]]) -> None:
    """Events taken for an export that could not be stored wait again (best effort)."""
    if not waiting:
        return
    try:
        now = utcnow()
        with db.writing() as session:
            session.add_all(PendingEvents(call_id=cid, received_at=now, blob=privacy.encrypt({"events": evs}))
                            for cid, evs in waiting.items())
    except Exception:
        EVENTS.labels("lost").inc(sum(len(evs) for evs in waiting.values()))


def fill_late(db: Database, calls: list[Any]) -> int:
    """After a traces export is stored: events that arrived for its calls meanwhile."""
    waiting = take(db, [c.id for c in calls if c.id])
    apps = {c.id: c.app for c in calls}
    for cid, events in waiting.items():
        found, meta = _found(events, apps[cid])
        amend.fill(db, cid, found, meta)
        EVENTS.labels("joined").inc(len(events))
    return len(waiting)


# ---- metrics ----

_LAST: OrderedDict[tuple[Any, ...], tuple[float, float]] = OrderedDict()  # cumulative series: last (sum, count)
_LAST_MAX = 10_000
_SERIES: set[tuple[str, str]] = set()  # (app, model) label pairs in use: bounded, the rest is "other"
_SERIES_MAX = 500


def _labels(app: str, model: str) -> tuple[str, str]:
    if (app, model) in _SERIES or len(_SERIES) < _SERIES_MAX:
        _SERIES.add((app, model))
        return app, model
    return "other", "other"


def _increase(key: tuple[Any, ...], start: int, total: float, count: float, cumulative: bool) -> tuple[float, float]:
    if not cumulative:
        return total, count
    k = (*key, start)
    before = _LAST.get(k, (0.0, 0.0))
    _LAST[k] = (total, count)
    _LAST.move_to_end(k)
    while len(_LAST) > _LAST_MAX:
        _LAST.popitem(last=False)
    if total < before[0] or count < before[1]:  # a reset
        return total, count
    return total - before[0], count - before[1]


def ingest_metrics(req: ExportMetricsServiceRequest) -> int:
    """Count the data points; GenAI client metrics into the Prometheus series. Returns points seen."""
    points = 0
    for rm in req.resource_metrics:
        res = attributes(rm.resource.attributes)
        app = as_str(res.get("fireline.app") or res.get("openinference.project.name") or res.get("service.name"),
                     200) or "unknown_service"
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind) if kind else None
                n = len(data.data_points) if data is not None else 0
                points += n
                METRIC_POINTS.labels(metric.name if metric.name in GENAI_METRICS else "other").inc(n)
                if metric.name not in GENAI_METRICS or kind != "histogram" or data is None:
                    continue
                cumulative = data.aggregation_temporality == CUMULATIVE
                for dp in data.data_points:
                    a = attributes(dp.attributes)
                    model = as_str(a.get("gen_ai.response.model") or a.get("gen_ai.request.model"), 100) or "unknown"
                    app_l, model = _labels(app, model)
                    total, count = float(dp.sum), float(dp.count)
                    if not (math.isfinite(total) and total >= 0):
                        continue
                    if metric.name == "gen_ai.client.token.usage":
                        kind_label = as_str(a.get("gen_ai.token.type"), 16) or "unknown"
                        inc, _ = _increase((app, metric.name, model, kind_label), dp.start_time_unix_nano, total,
                                           count, cumulative)
                        token_type = kind_label if kind_label in ("input", "output") else "other"
                        GENAI_TOKENS.labels(app_l, model, token_type).inc(inc)
                    else:
                        inc, ops = _increase((app, metric.name, model), dp.start_time_unix_nano, total, count,
                                             cumulative)
                        GENAI_SECONDS.labels(app_l, model).inc(inc)
                        GENAI_OPERATIONS.labels(app_l, model).inc(ops)
    return points
