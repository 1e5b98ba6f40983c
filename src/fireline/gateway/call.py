"""One proxied chat completion, from the parsed request to the pending log record: controls and
input policies before the upstream, the upstream round trip (or relay of its stream), output
inspection, and the record handed to the background writer before the answer is released."""

from __future__ import annotations

import itertools
import os
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from fireline.calls.pricing import cost_usd
from fireline.config import AppConfig
from fireline.gateway import enforce, policy
from fireline.gateway.responses import JSON, SSE, Send, as_sse, assemble_stream, completion, error, message_of, respond

if TYPE_CHECKING:
    from fireline.gateway.proxy import Gateway

_ID_PREFIX = os.urandom(5).hex()
_ID_SEQ = itertools.count()


def call_id() -> str:
    """Unique and time-ordered ("gw" + ms clock + process random + counter); ~10x cheaper than a ULID."""
    return f"gw{int(time.time() * 1000):011x}{_ID_PREFIX}{next(_ID_SEQ) & 0xFFFFFFFF:08x}"


class Call:
    """One proxied chat completion, from the parsed request to the pending log record."""

    def __init__(self, gw: Gateway, headers: dict[bytes, bytes], attribution: dict[bytes, str | None],
                 body: dict[str, Any], raw: bytes, t0: float, started: float, key_id: str | None = None) -> None:
        self.gw, self.headers, self.body, self.raw, self.t0 = gw, headers, body, raw, t0
        h = attribution.get
        user = h(b"x-fireline-user")
        self.app = h(b"x-fireline-app") or "default"
        self.user = user if user else (body.get("user") if isinstance(body.get("user"), str) else None)
        self.tenant = h(b"x-fireline-tenant")
        self.cohort = h(b"x-fireline-cohort")
        self.stream = bool(body.get("stream"))
        self.id = call_id()
        self.out = enforce.Outcome()
        self.finished = False
        self.pending: dict[str, Any] = {
            "id": self.id, "started": started, "app": self.app, "user": self.user, "tenant": self.tenant,
            "session": h(b"x-fireline-session"), "prompt_version": h(b"x-fireline-prompt-version"),
            "cohort": self.cohort, "route": h(b"x-fireline-route"), "environment": h(b"x-fireline-environment"),
            "model_requested": body.get("model"), "body": body, "stream": self.stream,
            "retrieval": h(b"x-fireline-retrieval"), "status": "ok", "api_key_id": key_id}
        self.policies = gw.policies.for_app(self.app) if gw.policies else None
        self.key_id = key_id
        self.who = {"user": self.user, "tenant": self.tenant, "session": self.pending["session"], "key": key_id}
        self.enf: Any = None

    def reply_headers(self) -> list[tuple[bytes, bytes]]:
        out = [(b"x-fireline-call-id", self.id.encode())]
        if self.out.controls:
            out.append((b"x-fireline-contained", ",".join(self.out.controls).encode()))
        return out

    def finish(self, **fields: Any) -> None:
        """Hand the call record to the writer (durable in the spool when this returns). Called
        before the answer is released, once per call."""
        if self.finished:
            return
        self.finished = True
        p = self.pending
        p.update(fields)
        p["latency_ms"] = round((time.perf_counter() - self.t0) * 1000, 3)
        if self.enf is not None and self.enf.budgets and p["status"] == "ok":
            self.count_spend(p)
        if "budget" in self.out.notes:
            p["budget"] = self.out.notes["budget"]
        if self.out.controls:
            p["controls"] = self.out.controls
            p["notes"] = self.out.notes
            p["guardrails"] = self.out.guardrails
            p["refused_tools"] = self.out.refused_tools
            if p["status"] == "ok":
                p["status"] = self.out.status
            if "prompt_pinned" in self.out.notes:
                p["prompt_version"] = self.out.notes["prompt_pinned"]
        self.gw.writer.submit(p)

    def count_spend(self, p: dict[str, Any]) -> None:
        """Count the call's tokens and dollars against its budgets; note a budget it took over."""
        answer = p.get("answer")
        try:
            if not isinstance(answer, dict) and p.get("raw") is not None:
                raw = p["raw"]
                answer = assemble_stream(b"".join(raw)) if p.get("stream") else orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            return
        usage = (answer or {}).get("usage") if isinstance(answer, dict) else None
        if not isinstance(usage, dict):
            return
        prompt, completion_ = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
        model = (answer or {}).get("model") or self.body.get("model")
        usd = cost_usd(self.gw.writer.prices, model, prompt, completion_) or 0.0
        book = getattr(self.gw.state, "controls", None)
        if book is None:
            return
        over = enforce.spend(self.enf, book.counter, tokens=float(prompt + completion_), usd=usd, who=self.who,
                             now=time.time())
        if over:
            self.out.notes["budget"] = over[0]

    async def answer(self, send: Send, comp: dict[str, Any], status: int = 200,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [*self.reply_headers(), *(extra or [])]
        if self.stream:
            await respond(send, status, as_sse(comp), SSE, [(b"cache-control", b"no-cache"), *headers])
        else:
            await respond(send, status, orjson.dumps(comp), JSON, headers)

    async def admit(self, send: Send, view: dict[str, Any], *,
                    can_inject: bool = True) -> tuple[Any, bool, AppConfig] | None:
        """Controls and input policies before the upstream is asked: (the call's enforcement, whether
        any control is active, the app's config), or None when the call was answered here (blocked by
        a policy or a control, limited, or answered by an injected fault)."""
        gw = self.gw
        book = getattr(gw.state, "controls", None)
        enf = book.current().for_request(app=self.app, user=self.user, tenant=self.tenant, model=view.get("model"),
                                         cohort=self.cohort, session=self.pending["session"],
                                         key=self.key_id) if book is not None else None
        self.enf = enf
        active = enforce.is_active(enf)
        app_cfg = gw.app_config(self.app)
        pol = self.policies
        if pol is not None and pol.enforces_input:
            stop = policy.check_input(pol, self.app, view, self.out, enforce.fallback_text(enf, app_cfg))
            if stop is not None:
                await self.stopped(send, stop, None)
                return None
        if active:
            assert book is not None  # an enforcement comes from the control book
            stop = enforce.before(enf, view, app_cfg, self.out, limiter=book.limiter, who=self.who, now=time.time())
            if stop is not None:
                await self.stopped(send, stop, None)
                return None
            fake = enforce.injected(enf, str(view.get("model") or ""), self.cohort,
                                    self.out.notes.get("prompt_pinned") or self.pending["prompt_version"])
            if fake is not None and enf is not None and can_inject:
                self.pending["injected"] = enf.inject.id
                await self.inspect_and_answer(send, enf, fake, app_cfg)
                return None
        return enf, active, app_cfg

    async def run(self, send: Send) -> None:
        gw, body = self.gw, self.body
        admitted = await self.admit(send, body)
        if admitted is None:
            return
        enf, active, app_cfg = admitted
        pol = self.policies
        data = orjson.dumps(body) if self.out.controls else self.raw
        inspect = (active and enforce.needs_output(enf)) or (pol is not None and pol.enforces_output)
        if self.stream and not inspect:
            await self.relay_stream(send, data)
            return
        assert gw.session is not None
        try:
            async with gw.session.post(gw.upstream + "/chat/completions", data=data,
                                       headers=gw.upstream_headers(self.headers)) as resp:
                payload = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self.upstream_failed(send, exc)
            return
        if status != 200:
            await self.upstream_error(send, status, payload, retry_after)
            return
        if not inspect:
            self.finish(raw=payload)  # durable in the spool before the answer is released
            await respond(send, 200, payload, JSON, self.reply_headers())
            return
        try:
            comp = assemble_stream(payload) if self.stream else orjson.loads(payload)
        except orjson.JSONDecodeError:
            await self.upstream_error(send, 502, payload, None)
            return
        await self.inspect_and_answer(send, enf, comp, app_cfg)

    async def inspect_and_answer(self, send: Send, enf: Any, comp: dict[str, Any], app_cfg: AppConfig) -> None:
        msg = message_of(comp)
        original = msg.get("content") if isinstance(msg.get("content"), str) else None
        record = {"app": self.app, "tenant": self.tenant, "user": self.user, "input": self.body.get("messages"),
                  "output": original}
        stop = enforce.after(enf, comp, app_cfg, self.out, self.gw.detectors, record) \
            if enforce.is_active(enf) else None
        if stop is None and self.policies is not None and self.policies.enforces_output:
            stop = policy.check_output(self.policies, self.app, comp, self.out, enforce.fallback_text(enf, app_cfg),
                                       record, self.gw.detectors.findings)
        if stop is not None:
            await self.stopped(send, stop, comp, original)
            return
        visible = message_of(comp).get("content")
        self.finish(answer=comp, output=original, visible=visible if visible != original else None)
        await self.answer(send, comp)

    async def stopped(self, send: Send, stop: enforce.Stop, comp: dict[str, Any] | None,
                      original: str | None = None) -> None:
        if stop.retry_after is not None:
            body = error(stop.message, "rate_limit_exceeded", stop.code)
            what = "over budget" if stop.code == "budget_exceeded" else "rate limited"
            self.finish(answer=None, output=None, visible=None, http_status=429,
                        error=f"{what} by {stop.control.id}")
            await respond(send, 429, body, JSON, [*self.reply_headers(), (b"retry-after", b"%d" % stop.retry_after)])
            return
        model = str((comp or {}).get("model") or self.body.get("model") or "")
        self.finish(answer=comp, output=original if comp is not None else None, visible=stop.message)
        await self.answer(send, completion(stop.message, model))

    def relayed(self, chunks: list[bytes]) -> dict[str, Any]:
        """What the log keeps of a relayed stream (the chunks as they came; other APIs assemble them)."""
        return {"raw": chunks}

    async def relay_stream(self, send: Send, data: bytes, path: str = "/chat/completions") -> None:
        gw = self.gw
        assert gw.session is not None
        chunks: list[bytes] = []
        started = False
        try:
            async with gw.session.post(gw.upstream + path, data=data,
                                       headers=gw.upstream_headers(self.headers)) as resp:
                if resp.status != 200:
                    payload = await resp.read()
                    await self.upstream_error(send, resp.status, payload, resp.headers.get("Retry-After"))
                    return
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-type", SSE), (b"cache-control", b"no-cache"), *self.reply_headers()]})
                started = True
                async for chunk in resp.content.iter_any():
                    chunks.append(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.finish(**self.relayed(chunks))  # durable before the stream is closed
            await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientError, TimeoutError) as exc:
            if not started:
                await self.upstream_failed(send, exc)
                return
            self.finish(**self.relayed(chunks), status="error", error=f"upstream stream broke: {type(exc).__name__}")
            await send({"type": "http.response.body", "body": b""})
        except OSError:  # the caller went away: keep what was relayed
            self.finish(**self.relayed(chunks), error="client disconnected")

    async def upstream_failed(self, send: Send, exc: BaseException) -> None:
        timeout = isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError)
        status = 504 if timeout else 502
        message = f"upstream {'timed out' if timeout else 'unreachable'}: {type(exc).__name__}"
        await self.upstream_error(send, status, error(message, "api_error", "upstream_error"), None)

    async def upstream_error(self, send: Send, status: int, payload: bytes, retry_after: str | None) -> None:
        fallback = self.gw.explicit_fallback(self.app)
        try:
            parsed = orjson.loads(payload)
            ok_shape = isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)
            detail = parsed["error"].get("message") if ok_shape else None
        except orjson.JSONDecodeError:
            ok_shape, detail = False, None
        if not ok_shape:
            payload = error(f"upstream answered HTTP {status}", "api_error", "upstream_error")
        message = str(detail or f"upstream answered HTTP {status}")[:500]
        if fallback is not None:
            self.finish(status="error", error=message, http_status=status, fallback_served=True, visible=fallback)
            await self.answer(send, completion(fallback, str(self.body.get("model") or "")),
                              extra=[(b"x-fireline-fallback", b"upstream-error")])
            return
        extra = [(b"retry-after", retry_after.encode())] if retry_after else []
        self.finish(status="error", error=message, http_status=status)
        await respond(send, status, payload, JSON, [*self.reply_headers(), *extra])
