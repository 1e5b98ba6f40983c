"""The gateway's other OpenAI routes: Responses, legacy completions, embeddings, one model.

Each is proxied like a chat completion (call.Call): the same key check, attribution, controls
and policies, the same log record through the writer. The request and the answer are seen
through their chat-completion view (gateway.wire), so every control written for chat applies
unchanged; what a control changed is written back into the API's own shape, and an answer the
controls did not touch is relayed byte for byte (ids such as a response's, which a later
`previous_response_id` names, stay the upstream's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from fireline.gateway import checks, enforce, wire
from fireline.gateway.call import Call
from fireline.gateway.checks import BadRequest, header_text
from fireline.gateway.proxy import ATTRIBUTION_HEADERS, Gateway
from fireline.gateway.responses import JSON, SSE, Reply, error, read_body, respond
from fireline.validation import MAX_DEPTH, first_problem

Obj = dict[str, Any]
Send = Any
Receive = Any
OWN_ID = "resp_fl"  # ids of Responses objects the gateway made itself (fallbacks): the upstream never saw them


def _string(body: Obj, name: str, limit: int | None = None, required: bool = False) -> None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(name, "is required")
        return
    if not isinstance(value, str):
        raise BadRequest(name, "must be a string")
    if limit is not None and len(value) > limit:
        raise BadRequest(name, f"is longer than {limit} characters")


def _common(body: Obj, model_required: bool) -> None:
    _string(body, "model", checks.MODEL_MAX, required=model_required)
    _string(body, "user", checks.USER_MAX)
    problem = first_problem(body, max_depth=MAX_DEPTH)
    if problem is not None:
        raise BadRequest(*problem)


def check_responses(body: Obj) -> None:
    _common(body, model_required=False)
    _string(body, "instructions")
    _string(body, "previous_response_id", 200)
    _string(body, "safety_identifier", checks.USER_MAX)
    items = body.get("input")
    if not (items is None or isinstance(items, str | list)):
        raise BadRequest("input", "must be a string or a list of input items")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            raise BadRequest(f"input[{i}]", "must be an object")
        role = item.get("role")
        if role is not None and (not isinstance(role, str) or not role or len(role) > checks.ROLE_MAX):
            raise BadRequest(f"input[{i}].role", f"must be a non-empty string of at most {checks.ROLE_MAX} characters")
        content = item.get("content")
        if not (content is None or isinstance(content, str)
                or (isinstance(content, list) and all(isinstance(p, dict) for p in content))):
            raise BadRequest(f"input[{i}].content", "must be a string or a list of content parts")
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        raise BadRequest("tools", "must be a list of tool objects")


def _texts_or_tokens(value: Any, name: str) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, list) and value and (
            all(isinstance(v, str) for v in value)
            or all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or all(isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in v)
                   for v in value)):
        return
    raise BadRequest(name, "must be a string, a non-empty list of strings, or token arrays")


def check_completions(body: Obj) -> None:
    _common(body, model_required=True)
    _texts_or_tokens(body.get("prompt"), "prompt")


def check_embeddings(body: Obj) -> None:
    _common(body, model_required=True)
    _texts_or_tokens(body.get("input"), "input")


def _no_origins(body: Obj) -> tuple[Obj, list[tuple[Obj, int | None]]]:
    return {}, []


@dataclass(frozen=True, slots=True)
class Api:
    name: str
    path: str  # upstream path below FIRELINE_UPSTREAM_URL
    check: Callable[[Obj], None]
    view: Callable[[Obj], Any]
    apply: Callable[..., None]
    comp: Callable[[Obj], Obj]
    wire: Callable[..., Obj] | None = None  # None: no text answer to give (embeddings)
    sse: Callable[[Obj], bytes] | None = None
    assemble: Callable[[bytes], Obj] | None = None


def _completions_view(body: Obj) -> tuple[Obj, list[tuple[Obj, int | None]]]:
    view = wire.completions_view(body)
    return view, [(view["messages"][0], 0)]


def _embeddings_view(body: Obj) -> tuple[Obj, list[tuple[Obj, int | None]]]:
    view = wire.embeddings_view(body)
    return view, [(m, i) for i, m in enumerate(view["messages"])]


RESPONSES = Api("responses", "/responses", check_responses, wire.response_view, wire.response_apply,
                wire.response_comp, wire.response_object, wire.response_sse, wire.response_assemble)
COMPLETIONS = Api("completions", "/completions", check_completions, _completions_view, wire.completions_apply,
                  wire.completions_comp, wire.completions_object, wire.completions_sse, wire.completions_assemble)
EMBEDDINGS = Api("embeddings", "/embeddings", check_embeddings, _embeddings_view, wire.embeddings_apply,
                 wire.embeddings_comp)
ROUTES = {"/v1/responses": RESPONSES, "/v1/completions": COMPLETIONS, "/v1/embeddings": EMBEDDINGS}


def _sig(comp: Obj) -> bytes:
    return orjson.dumps(((comp.get("choices") or [{}])[0]).get("message"))


class ApiCall(Call):
    """One proxied call of another API, enforced and logged through its chat view."""

    def __init__(self, gw: Gateway, api: Api, headers: dict[bytes, bytes], attribution: dict[bytes, str | None],
                 body: Obj, raw: bytes, t0: float, started: float, key_id: str | None) -> None:
        view, self.origins = api.view(body)
        super().__init__(gw, headers, attribution, view, raw, t0, started, key_id)
        self.api, self.request = api, body
        self.snapshot = [m.get("content") for m, _ in self.origins]
        self.base: Obj | None = None
        self.base_comp: Obj | None = None
        self.base_sig = b""
        self.base_raw = b""
        self.pending["api"] = api.name
        previous = body.get("previous_response_id")
        if isinstance(previous, str):
            self.pending["previous_response_id"] = previous
            if previous.startswith(OWN_ID):  # a fallback the gateway answered: nothing upstream to continue
                body.pop("previous_response_id")
                self.raw = orjson.dumps(body)

    def keep(self, obj: Obj, comp: Obj) -> None:
        self.base, self.base_comp, self.base_sig = obj, comp, _sig(comp)
        if self.api is RESPONSES and isinstance(obj.get("id"), str):
            self.pending["response_id"] = obj["id"]
        if self.api is RESPONSES and obj.get("status") in ("failed", "incomplete", "cancelled"):
            # a stream that ended in response.failed / .incomplete: the caller saw it, the log says it
            detail = obj.get("error") or obj.get("incomplete_details") or {}
            reason = detail.get("message") or detail.get("reason") if isinstance(detail, dict) else None
            self.pending["error"] = f"response {obj['status']}" + (f": {str(reason)[:300]}" if reason else "")
            if obj["status"] == "failed":
                self.pending["status"] = "error"
        if "embeddings" in comp:
            self.pending["embeddings"] = comp["embeddings"]

    async def run(self, send: Send) -> None:
        gw, view, api = self.gw, self.body, self.api
        admitted = await self.admit(send, view, can_inject=api.wire is not None)
        if admitted is None:
            return
        enf, active, app_cfg = admitted
        pol = self.policies
        api.apply(self.request, view, self.origins, self.snapshot, self.out.notes)
        data = orjson.dumps(self.request) if self.out.controls else self.raw
        inspect = api.wire is not None and ((active and enforce.needs_output(enf))
                                            or (pol is not None and pol.enforces_output))
        if self.stream and not inspect and api.assemble is not None:
            await self.relay_stream(send, data, self.api.path)
            return
        assert gw.session is not None
        try:
            async with gw.session.post(gw.upstream + api.path, data=data,
                                       headers=gw.upstream_headers(self.headers)) as resp:
                payload = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self.upstream_failed(send, exc)
            return
        if status != 200:
            await self.upstream_error(send, status, payload, retry_after)
            return
        try:
            obj = api.assemble(payload) if self.stream and api.assemble is not None else orjson.loads(payload)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except (orjson.JSONDecodeError, ValueError):
            await self.upstream_error(send, 502, payload, None)
            return
        comp = api.comp(obj)
        self.keep(obj, comp)
        self.base_raw = payload
        if not inspect:
            self.finish(answer=comp)  # durable in the spool before the answer is released
            await respond(send, 200, payload, SSE if self.stream else JSON, self.reply_headers())
            return
        await self.inspect_and_answer(send, enf, comp, app_cfg)

    async def answer(self, send: Send, comp: Obj, status: int = 200,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [*self.reply_headers(), *(extra or [])]
        if comp is self.base_comp and _sig(comp) == self.base_sig and self.base_raw:
            body = self.base_raw  # untouched by the controls: the upstream's own bytes
        else:
            assert self.api.wire is not None
            obj = self.api.wire(comp, self.request, self.base)
            body = self.api.sse(obj) if self.stream and self.api.sse is not None else orjson.dumps(obj)
        if self.stream:
            await respond(send, status, body, SSE, [(b"cache-control", b"no-cache"), *headers])
        else:
            await respond(send, status, body, JSON, headers)

    async def stopped(self, send: Send, stop: enforce.Stop, comp: Obj | None, original: str | None = None) -> None:
        if self.api.wire is not None or stop.retry_after is not None:
            await super().stopped(send, stop, comp, original)
            return
        # No text answer can stand in for vectors: the caller hears the call was contained.
        self.finish(answer=None, output=None, http_status=503, error=f"contained by {stop.control.id}")
        await respond(send, 503, error(f"this call is paused by control {stop.control.id}", "api_error",
                                       "contained"), JSON, [*self.reply_headers(), (b"retry-after", b"60")])

    async def upstream_error(self, send: Send, status: int, payload: bytes, retry_after: str | None) -> None:
        if self.api.wire is not None:
            await super().upstream_error(send, status, payload, retry_after)
            return
        try:
            parsed = orjson.loads(payload)
            detail = parsed["error"].get("message") if isinstance(parsed, dict) and isinstance(
                parsed.get("error"), dict) else None
        except orjson.JSONDecodeError:
            detail = None
        if detail is None:
            payload = error(f"upstream answered HTTP {status}", "api_error", "upstream_error")
        self.finish(status="error", error=str(detail or f"upstream answered HTTP {status}")[:500], http_status=status)
        extra = [(b"retry-after", retry_after.encode())] if retry_after else []
        await respond(send, status, payload, JSON, [*self.reply_headers(), *extra])

    def relayed(self, chunks: list[bytes]) -> dict[str, Any]:
        return {"answer": self.streamed(chunks)}

    def streamed(self, chunks: list[bytes]) -> Obj:
        assert self.api.assemble is not None
        obj = self.api.assemble(b"".join(chunks))
        comp = self.api.comp(obj)
        self.keep(obj, comp)
        return comp


async def handle(gw: Gateway, api: Api, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    t0 = time.perf_counter()
    started = time.time()
    headers = dict(scope["headers"])
    try:
        principal = await gw.check_key(headers)
        raw = await read_body(receive)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Reply(400, error(f"body is not valid JSON: {exc}")) from None
        if not isinstance(body, dict):
            raise Reply(400, error("body must be a JSON object", code="invalid_body"))
        try:
            attribution = {name: header_text(headers, name) for name in ATTRIBUTION_HEADERS}
            api.check(body)
        except BadRequest as bad:
            raise Reply(400, error(bad.message, code="invalid_value", param=bad.param)) from None
        if not gw.upstream:
            raise Reply(502, error("no upstream configured (FIRELINE_UPSTREAM_URL)", "api_error"))
        if gw.writer.full():
            raise Reply(503, error("the gateway's call log is backed up; retry shortly", "api_error"),
                        [(b"retry-after", b"1")])
    except Reply as r:
        await respond(send, r.status, r.body, headers=r.headers)
        return
    await ApiCall(gw, api, headers, attribution, body, raw, t0, started, principal.key_id).run(send)
