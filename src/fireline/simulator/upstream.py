"""A scriptable, fast OpenAI-compatible upstream for tests, the demo and fire drills.

Raw asyncio (uvloop when importable), HTTP/1.1 keep-alive, no framework: it must never be
the bottleneck when the gateway is measured.

  POST /v1/chat/completions   JSON, or SSE chunks ending `data: [DONE]` when stream=true
  POST /v1/responses, /v1/completions, /v1/embeddings  the same script in those shapes (simulator.apis)
  GET|DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items
  GET  /v1/models, /v1/models/{id}, GET /health
  POST /_script  {"mode", "params"?, "match"?: {...}, "times"?, "rate"?, "seed"?}  add a rule
  POST /_reset   forget rules and recorded requests;  GET /_requests  recent requests

A rule's `match` narrows it to requests with every given key: `user`, `user_not_contains` (users
whose id does not contain it: "everyone but tenant globex's users"), `app` (the
X-Fireline-App header), `model` (exact), `system_contains` (a substring of the system
message), `input_contains` (a substring of the other messages). With `rate` (0..1) the rule
answers only that share of the requests it matches (a seeded draw, `seed`, so a run repeats),
the others fall through to older rules: a faulty model version that leaks 30 % of the time is
`{"mode": "leak_canary", "match": {"model": "m-2"}, "rate": 0.3}`, and the fixed version is
simply another model name that no rule matches.

Modes: normal, refuse, leak_pii, leak_canary {token}, write_tool {tool, arguments},
error {status, retry_after?}, slow {delay_ms}, token_explosion {tokens?}, hallucination
{doc_id?}. A request picks its mode by header `X-Upstream-Mode` (params as JSON in
`X-Upstream-Params`), else by the newest matching rule, else normal. Any mode takes
`delay_ms`. Usage tokens are always reported (in the last stream chunk too).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from typing import Any

import orjson

from fireline.simulator import apis
from fireline.simulator.script import MODES, Rule, Script, answer, completion_json, stream_events

STATUS_TEXT = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 429: b"Too Many Requests",
               500: b"Internal Server Error", 502: b"Bad Gateway", 503: b"Service Unavailable"}


def _head(status: int, ctype: bytes, length: int | None, extra: bytes = b"") -> bytes:
    size = b"Content-Length: %d\r\n" % length if length is not None else b"Transfer-Encoding: chunked\r\n"
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: keep-alive\r\n%s\r\n"
            % (status, STATUS_TEXT.get(status, b"OK"), ctype, size, extra))


class _Protocol(asyncio.Protocol):
    def __init__(self, server: UpstreamServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple[bytes, bytes, dict[bytes, bytes], bytes]] = deque()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        with contextlib.suppress(OSError, AttributeError):
            import socket

            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (req := self._parse()) is not None:
            self.queue.append(req)
        if not self.busy and self.queue:
            self.busy = True
            asyncio.ensure_future(self._serve_all())

    def _parse(self) -> tuple[bytes, bytes, dict[bytes, bytes], bytes] | None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.buf[:end]).split(b"\r\n")
        method, path, _ = lines[0].split(b" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        pos = end + 4
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = bytearray()
            while True:
                le = self.buf.find(b"\r\n", pos)
                if le < 0:
                    return None
                size = int(bytes(self.buf[pos:le]).split(b";")[0], 16)
                if len(self.buf) < le + 2 + size + 2:
                    return None
                body += self.buf[le + 2:le + 2 + size]
                pos = le + 2 + size + 2
                if size == 0:
                    break
            data = bytes(body)
        else:
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buf) < pos + length:
                return None
            data = bytes(self.buf[pos:pos + length])
            pos += length
        del self.buf[:pos]
        return method, path.split(b"?", 1)[0], headers, data

    async def _serve_all(self) -> None:
        try:
            while self.queue and self.transport is not None:
                await self._serve(*self.queue.popleft())
        except Exception:  # a broken request closes its connection, never the server
            if self.transport is not None:
                self.transport.close()
        finally:
            self.busy = False

    def _send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _json(self, status: int, obj: Any, extra: bytes = b"") -> None:
        body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
        self._send(_head(status, b"application/json", len(body), extra) + body)

    async def _serve(self, method: bytes, path: bytes, headers: dict[bytes, bytes], data: bytes) -> None:
        srv = self.server
        if path.endswith(b"/chat/completions") and method == b"POST":
            await self._chat(headers, data)
        elif method == b"POST" and (kind := apis.kind_of(path)) is not None:
            await self._chat(headers, data, kind)
        elif b"/responses/" in path and method in (b"GET", b"DELETE"):
            self._json(*apis.stored_response(path.decode(), method.decode(), srv.responses))
        elif b"/models/" in path and method == b"GET":
            self._json(*apis.model_object(path.rsplit(b"/", 1)[1].decode(), srv.models))
        elif path.endswith(b"/models"):
            self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fireline-sim"}
                for m in srv.models]})
        elif path == b"/health":
            self._send(_head(200, b"text/plain", 2) + b"ok")
        elif path == b"/_script" and method == b"POST":
            spec = orjson.loads(data or b"{}")
            if spec.get("mode") not in MODES:
                self._json(422, {"detail": f"mode must be one of {', '.join(MODES)}"})
                return
            try:
                srv.script.rules.insert(0, Rule(spec["mode"], dict(spec.get("params") or {}),
                                                dict(spec.get("match") or {}), spec.get("times"),
                                                float(spec.get("rate", 1.0)), int(spec.get("seed", 0))))
            except (ValueError, TypeError) as exc:
                self._json(422, {"detail": str(exc)})
                return
            self._json(200, {"rules": len(srv.script.rules)})
        elif path == b"/_reset" and method == b"POST":
            srv.reset()
            self._json(200, {"ok": True})
        elif path == b"/_requests":
            self._json(200, {"count": srv.script.count, "requests": list(srv.script.requests)})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    async def _chat(self, headers: dict[bytes, bytes], data: bytes, kind: str = "chat") -> None:
        srv = self.server
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        srv.script.count += 1
        view = body if kind == "chat" else apis.view_of(kind, body)
        user, app = view.get("user"), headers.get(b"x-fireline-app", b"").decode() or None
        if srv.record:
            srv.script.requests.append({"body": body, "app": app, "path": kind,
                                        "authorization": headers.get(b"authorization", b"").decode()})
        mode_h = headers.get(b"x-upstream-mode")
        if mode_h:
            mode, params = mode_h.decode(), orjson.loads(headers.get(b"x-upstream-params", b"{}"))
        else:
            mode, params = srv.script.pick(user, app, view)
        delay = float(params.get("delay_ms", 0 if mode != "slow" else 1000)) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        ans = answer(mode, params, view)
        model = str(body.get("model") or "sim-model")
        if "error" in ans:
            extra = b"Retry-After: %d\r\n" % int(ans["retry_after"]) if ans.get("retry_after") else b""
            self._json(ans["status"], {"error": ans["error"]}, extra)
            return
        srv.seq += 1
        if kind != "chat":
            status, payload, stream = apis.reply(kind, ans, body, model, srv.seq, srv.responses)
            if not stream:
                self._json(status, payload)
                return
            self._send(_head(status, b"text/event-stream", len(payload), b"Cache-Control: no-cache\r\n") + payload)
            return
        cid, created = f"chatcmpl-sim{srv.seq}", int(time.time())
        if not body.get("stream"):
            self._json(200, completion_json(ans, model, cid, created))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = stream_events(ans, model, cid, created, include_usage)
        self._send(_head(200, b"text/event-stream", None, b"Cache-Control: no-cache\r\n"))
        chunk_delay = float(params.get("chunk_delay_ms", 0)) / 1000
        for event in events:
            self._send(b"%x\r\n%s\r\n" % (len(event), event))
            if chunk_delay:
                await asyncio.sleep(chunk_delay)
        self._send(b"0\r\n\r\n")


class UpstreamServer:
    """The simulator. `start()` runs it on its own loop in a thread; `serve()` in the caller's loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record: bool = True,
                 models: tuple[str, ...] = ("gpt-4o-2024-08-06", "gpt-4o-2024-05-13", "gpt-4o-mini")) -> None:
        self.host, self.port, self.record, self.models = host, port, record, models
        self.script = Script()
        self.seq = 0
        self.responses: dict[str, Any] = {}  # Responses issued, by id (previous_response_id must name one)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://host:port (the scripting endpoints live here)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What FIRELINE_UPSTREAM_URL points at: url + "/v1"."""
        return self.url + "/v1"

    def reset(self) -> None:
        self.script = Script()

    def add_rule(self, mode: str, params: dict[str, Any] | None = None, match: dict[str, str] | None = None,
                 times: int | None = None, rate: float = 1.0, seed: int = 0) -> None:
        """Script from the same process (thread-safe enough: the loop reads a list reference)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.script.rules.insert(0, Rule(mode, dict(params or {}), dict(match or {}), times, rate, seed))

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(lambda: _Protocol(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve(self) -> None:
        await self.open()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> UpstreamServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = _new_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.open())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fireline-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"upstream simulator did not start: {failure[0] if failure else 'timeout'}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def run(host: str = "127.0.0.1", port: int = 9000) -> None:
    """Serve until interrupted (the `fireline upstream` command)."""
    server = UpstreamServer(host, port)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(server.serve())
