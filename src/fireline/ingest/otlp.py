"""OTLP/HTTP traces: decode a request (protobuf or JSON, gzip or not), map its spans to calls,
and answer in the request's encoding (partial_success for rejected spans).

The hot path does one protobuf parse (upb, C), one pass over each span's attributes into a
dict, and one `calls.service.ingest` for the whole request, i.e. one transaction.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from pydantic import TypeAdapter, ValidationError

from fireline.calls.pricing import cost_usd, price_table
from fireline.calls.schemas import CallIn
from fireline.config import Config
from fireline.ingest import spans
from fireline.ingest.attrs import as_str, attributes
from fireline.validation import first_problem

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_call = TypeAdapter(CallIn)


class Malformed(Exception):
    """The body cannot be decoded: answer 400 (the client must not retry)."""


class Unsupported(Exception):
    """The content type or encoding is not OTLP/HTTP: answer 415."""


def encoding_of(content_type: str | None) -> str:
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype in (PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"):
        return PROTOBUF
    if ctype == JSON:
        return JSON
    raise Unsupported(f"content type {ctype or '(none)'} is not OTLP/HTTP: use {PROTOBUF} or {JSON}")


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress with a hard cap on the output (no decompression bombs)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise Malformed(f"body is not valid gzip: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise Malformed(f"decompressed body is over the limit of {limit} bytes")
    if not d.eof:
        raise Malformed("gzip body is truncated")
    return out


def decode(body: bytes, encoding: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    if encoding == PROTOBUF:
        try:
            req.ParseFromString(body)
        except DecodeError as exc:
            raise Malformed(f"body is not a valid ExportTraceServiceRequest protobuf: {exc}") from None
        return req
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed("body must be a JSON object (an ExportTraceServiceRequest)")
    _hex_ids(data)
    try:
        json_format.ParseDict(data, req, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise Malformed(f"body is not a valid OTLP JSON ExportTraceServiceRequest: {exc}") from None
    return req


def _hex(value: Any) -> Any:
    """OTLP JSON carries ids as hex; protobuf's JSON mapping expects base64."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return ""  # an invalid id: the span is rejected, not the request


def _hex_ids(data: dict[str, Any]) -> None:
    for rs in _objs(data.get("resourceSpans", data.get("resource_spans"))):
        for ss in _objs(rs.get("scopeSpans", rs.get("scope_spans"))):
            for sp in _objs(ss.get("spans")):
                for key in ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"):
                    if key in sp:
                        sp[key] = _hex(sp[key])
                for link in _objs(sp.get("links")):
                    for key in ("traceId", "trace_id", "spanId", "span_id"):
                        if key in link:
                            link[key] = _hex(link[key])


def _objs(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def encode_response(rejected: int, message: str, encoding: str) -> bytes:
    resp = ExportTraceServiceResponse()
    if rejected or message:
        resp.partial_success.rejected_spans = rejected
        resp.partial_success.error_message = message
    if encoding == PROTOBUF:
        return resp.SerializeToString()
    return json_format.MessageToJson(resp, indent=None).encode()


def encode_status(code: int, message: str, encoding: str) -> bytes:
    """A google.rpc.Status body, as OTLP/HTTP wants for errors."""
    from google.rpc.status_pb2 import Status

    status = Status(code=code, message=message)
    if encoding == PROTOBUF:
        return status.SerializeToString()
    return orjson.dumps({"code": code, "message": message})


# ---- spans to calls ----

@dataclass(slots=True)
class Node:
    kind: str
    trace: bytes
    span_id: bytes
    parent: bytes
    start: int
    piece: Any  # the call dict (llm), tool dict, list of docs, or guardrail dict


@dataclass(slots=True)
class Mapped:
    calls: list[CallIn] = field(default_factory=list)
    rejected: int = 0
    skipped: int = 0
    unattached: int = 0
    errors: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = []
        if self.errors:
            more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            parts.append("; ".join(self.errors[:3]) + more)
        if self.unattached:
            parts.append(f"{self.unattached} tool/retriever/guardrail spans had no LLM span of their trace "
                         "in this export to attach to")
        return "; ".join(parts)


def _stamp(ns: int) -> datetime | None:
    if ns <= 0 or ns >= 2**63:
        return None
    try:
        return datetime.fromtimestamp(ns / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def span_ids(req: ExportTraceServiceRequest) -> list[str]:
    """The call id each span of the request would have (for joining GenAI log events)."""
    return [f"otlp-{span.trace_id.hex()}-{span.span_id.hex()}"
            for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]


def map_request(req: ExportTraceServiceRequest, config: Config,
                logged: dict[str, list[spans.Event]] | None = None) -> Mapped:
    """`logged`: GenAI events that arrived as log records, by call id (ingest.logs)."""
    out = Mapped()
    nodes: dict[bytes, Node] = {}
    parents: dict[bytes, bytes] = {}  # every span's parent, skipped spans included
    llm: list[Node] = []
    children: list[Node] = []
    for rs in req.resource_spans:
        res = attributes(rs.resource.attributes)
        # Phoenix's register(project_name=...) names the app; so does fireline.app; else service.name.
        app = as_str(res.get("fireline.app") or res.get("openinference.project.name") or res.get("service.name"),
                     200) or "unknown_service"
        env = as_str(res.get("deployment.environment.name") or res.get("deployment.environment"), 64)
        extra: dict[str, Any] = {k: res[k] for k in ("service.version", "service.namespace") if k in res}
        for ss in rs.scope_spans:
            for span in ss.spans:
                parents[span.span_id] = span.parent_span_id
                try:
                    node = _node(span, app, env, extra, logged)
                except Exception as exc:  # a span we cannot read is rejected, never the whole export
                    out.rejected += 1
                    out.errors.append(f"span {span.span_id.hex() or '?'}: unreadable ({type(exc).__name__})")
                    continue
                if isinstance(node, str):
                    out.rejected += 1
                    out.errors.append(node)
                    continue
                if node is None:
                    out.skipped += 1
                    continue
                nodes[node.span_id] = node
                (llm if node.kind == "llm" else children).append(node)
    _attach(nodes, parents, llm, children, out, config)
    prices = price_table(config) if llm else {}
    for node in llm:
        call = node.piece
        if call.get("cost_usd") is None:  # priced from the table when the instrumentation did not say
            call["cost_usd"] = cost_usd(prices, call.get("model_resolved") or call.get("model"),
                                        _count(call.get("input_tokens")), _count(call.get("output_tokens")))
        problem = first_problem(call)  # a value the database refuses rejects this span, not the export
        if problem is not None:
            out.rejected += 1
            out.errors.append(f"span {node.span_id.hex()}: {problem[0]}: {problem[1]}")
            continue
        try:
            out.calls.append(_call.validate_python(call))
        except ValidationError as exc:
            out.rejected += 1
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "span"
            out.errors.append(f"span {node.span_id.hex()}: {where}: {first['msg']}")
    return out


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else None


def _node(span: Any, app: str, env: str | None, extra: dict[str, Any],
          logged: dict[str, list[spans.Event]] | None = None) -> Node | str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.span_id.hex() or '?'}: trace_id must be 16 bytes and not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span in trace {span.trace_id.hex()}: span_id must be 8 bytes and not all zero"
    attrs = attributes(span.attributes)
    kind = spans.classify(attrs)
    if kind == "skip":
        return None
    error = span.status.code == spans.ERROR
    piece: Any
    if kind == "llm":
        trace_hex, span_hex = span.trace_id.hex(), span.span_id.hex()
        cid = f"otlp-{trace_hex}-{span_hex}"
        piece = spans.llm_call(span, attrs, app, env, logged.get(cid) if logged else None)
        piece["id"] = cid
        piece["trace_id"], piece["span_id"] = trace_hex, span_hex
        piece["started_at"] = _stamp(span.start_time_unix_nano)
        if span.end_time_unix_nano >= span.start_time_unix_nano > 0:
            piece["latency_ms"] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        for key, value in extra.items():
            piece["metadata"].setdefault(key, value)
    elif kind == "tool":
        piece = spans.tool_of(attrs, span.name, error)
    elif kind == "retriever":
        piece = spans.retrieval_of(attrs, spans._split(attrs)[1].get("retrieval.documents."), span.name)
    else:
        piece = spans.guardrail_span_of(attrs, span.name, error)
    return Node(kind, bytes(span.trace_id), bytes(span.span_id), bytes(span.parent_span_id),
                span.start_time_unix_nano, piece)


def _attach(nodes: dict[bytes, Node], parents: dict[bytes, bytes], llm: list[Node], children: list[Node],
            out: Mapped, config: Config) -> None:
    """Tool, retriever and guardrail spans join an LLM span of their trace: an LLM ancestor
    first; else, under the nearest common ancestor, the LLM span that asked for the tool (the
    last one started before it) or the one that used the retrieval (the first started after)."""
    by_parent: dict[bytes, list[Node]] = {}
    for node in llm:
        by_parent.setdefault(node.parent, []).append(node)
    for child in children:
        target = _target(child, nodes, parents, by_parent)
        if target is None:
            out.unattached += 1
            continue
        call = target.piece
        if child.kind == "tool":
            _merge_tool(call, child.piece, config)
        elif child.kind == "retriever":
            call["retrieval"].extend(child.piece)
        else:
            call["guardrails"].append(child.piece)
    tools_of: dict[str, dict[str, str]] = {}
    for node in llm:  # tool calls the model asked for, classified read/write from the app's config
        app = node.piece["app"]
        if app not in tools_of:
            tools_of[app] = dict(config.app(app).tools)
        tools = tools_of[app]
        for tc in node.piece["tool_calls"]:
            if "kind" not in tc and tc.get("name") in tools:
                tc["kind"] = tools[tc["name"]]


def _target(child: Node, nodes: dict[bytes, Node], parents: dict[bytes, bytes],
            by_parent: dict[bytes, list[Node]]) -> Node | None:
    seen = 0
    cursor = child.parent
    while cursor and seen < 64:
        up = nodes.get(cursor)
        if up is not None and up.kind == "llm" and up.trace == child.trace:
            return up
        siblings = [n for n in by_parent.get(cursor, ()) if n.trace == child.trace]
        if siblings:
            before = [n for n in siblings if n.start <= child.start]
            after = [n for n in siblings if n.start > child.start]
            if child.kind == "retriever":
                return min(after, key=lambda n: n.start) if after else max(before, key=lambda n: n.start)
            return max(before, key=lambda n: n.start) if before else min(after, key=lambda n: n.start)
        cursor = parents.get(cursor, b"")
        seen += 1
    return None


def _merge_tool(call: dict[str, Any], tool: dict[str, Any], config: Config) -> None:
    kind = config.app(call["app"]).tools.get(tool["name"])
    if kind:
        tool["kind"] = kind
    for tc in call["tool_calls"]:
        same_id = tool.get("id") and tc.get("id") == tool.get("id")
        if same_id or (not tool.get("id") and tc.get("name") == tool["name"] and "status" not in tc):
            tc.update({k: v for k, v in tool.items() if k != "arguments" or tc.get("arguments") is None})
            return
    call["tool_calls"].append(tool)
