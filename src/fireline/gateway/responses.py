"""OpenAI wire shapes the gateway writes itself (fallbacks, errors, re-streamed answers), the
assembly of an SSE stream back into one completion for the log, and the raw ASGI plumbing of its
answers (`respond`, an early `Reply`, `read_body`)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from ulid import ULID

JSON = b"application/json"
SSE = b"text/event-stream"
MAX_BODY = 16 * 1024 * 1024
Send = Any
Receive = Any


def completion(content: str | None, model: str, tool_calls: list[dict[str, Any]] | None = None,
               finish_reason: str | None = None, usage: dict[str, Any] | None = None,
               cid: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": cid or f"chatcmpl-fl{ULID()}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
                         "logprobs": None}],
            "usage": usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def as_sse(comp: dict[str, Any]) -> bytes:
    """A whole completion as a valid chat.completion.chunk stream ending with [DONE]."""
    base = {"id": comp["id"], "object": "chat.completion.chunk", "created": comp["created"], "model": comp["model"]}
    choice = comp["choices"][0]
    message = choice["message"]

    def event(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
        obj: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    out = [event({"role": "assistant", "content": ""})]
    if message.get("content"):
        out.append(event({"content": message["content"]}))
    for i, call in enumerate(message.get("tool_calls") or []):
        out.append(event({"tool_calls": [{"index": i, "id": call.get("id"), "type": "function",
                                          "function": call.get("function", {})}]}))
    out.append(event({}, choice.get("finish_reason") or "stop", comp.get("usage")))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def error(message: str, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


def assemble_stream(raw: bytes) -> dict[str, Any]:
    """Fold SSE chunks into one chat.completion (content joined, tool-call fragments merged)."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    meta: dict[str, Any] = {"id": None, "created": 0, "model": None}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data or data == b"[DONE]":
            continue
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(chunk, dict):
            continue
        for key in meta:
            if chunk.get(key) and not meta[key]:
                meta[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                content.append(delta["content"])
            frags = delta.get("tool_calls")
            for frag in frags if isinstance(frags, list) else []:
                if not isinstance(frag, dict):
                    continue
                index = frag.get("index", 0)
                slot = calls.setdefault(index if isinstance(index, int) else 0,
                                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                if isinstance(frag.get("id"), str) and frag["id"]:
                    slot["id"] = frag["id"]
                fn = frag.get("function")
                fn = fn if isinstance(fn, dict) else {}
                slot["function"]["name"] += fn.get("name") if isinstance(fn.get("name"), str) else ""
                slot["function"]["arguments"] += fn.get("arguments") if isinstance(fn.get("arguments"), str) else ""
            if isinstance(choice.get("finish_reason"), str):
                finish = choice["finish_reason"]
    comp = completion("".join(content) if content else None, meta["model"] or "",
                      [calls[i] for i in sorted(calls)], finish, usage, cid=meta["id"])
    comp["created"] = meta["created"] or comp["created"]
    if usage is None:
        comp["usage"] = None
    return comp


def message_of(comp: dict[str, Any]) -> dict[str, Any]:
    choices = comp.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    msg = first.get("message") if isinstance(first, dict) else None
    return msg if isinstance(msg, dict) else {}


class Reply(Exception):
    """An early answer to the caller (auth, bad body, overload)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or []


async def respond(send: Send, status: int, body: bytes, ctype: bytes = JSON,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", b"%d" % len(body)), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Reply(413, error(f"body is over the limit of {MAX_BODY} bytes"))
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
