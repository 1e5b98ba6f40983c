"""The simulator's other OpenAI routes: Responses, legacy completions, embeddings, one model.

Answers follow the same script as chat (modes, rules, `X-Upstream-Mode`): a request is matched
and answered through its chat view, then written in the API's own shape with the gateway's wire
functions. Responses are remembered by id, so a `previous_response_id` the simulator never issued
answers 400 `previous_response_not_found`, as OpenAI does.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

import orjson

from fireline.gateway import wire
from fireline.gateway.responses import completion

Obj = dict[str, Any]
KINDS = ("responses", "completions", "embeddings")


def kind_of(path: bytes) -> str | None:
    if path.endswith(b"/chat/completions"):
        return None
    for kind in KINDS:
        if path.endswith(b"/" + kind.encode()):
            return kind
    return None


def view_of(kind: str, body: Obj) -> Obj:
    if kind == "responses":
        return wire.response_view(body)[0]
    if kind == "completions":
        return wire.completions_view(body)
    return wire.embeddings_view(body)


def vector(text: str, dims: int) -> list[float]:
    """A deterministic vector per text (same text, same vector)."""
    raw, block = b"", text.encode()
    while len(raw) < dims:
        block = hashlib.sha256(block).digest()
        raw += block
    return [round(b / 255.0 * 2 - 1, 6) for b in raw[:dims]]


def embeddings(body: Obj, view: Obj, model: str) -> Obj:
    asked = body.get("dimensions")
    dims = asked if isinstance(asked, int) else 8
    data = []
    for i, msg in enumerate(view["messages"]):
        vec = vector(str(msg["content"]), max(1, min(int(dims), 4096)))
        emb: Any = vec
        if body.get("encoding_format") == "base64":
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(max(1, len(str(m["content"])) // 4) for m in view["messages"])
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def reply(kind: str, ans: Obj, body: Obj, model: str, seq: int, known: dict[str, Obj]) -> tuple[int, bytes, bool]:
    """(status, body bytes, is an event stream) for a scripted answer `ans` of the chat simulator."""
    if kind == "embeddings":
        return 200, orjson.dumps(embeddings(body, view_of(kind, body), model)), False
    comp = completion(ans["content"], model, ans["tool_calls"] or None, ans["finish_reason"], ans["usage"])
    stream = bool(body.get("stream"))
    if kind == "completions":
        obj = wire.completions_object(comp, body)
        obj["id"] = f"cmpl-sim{seq}"
        return 200, wire.completions_sse(obj) if stream else orjson.dumps(obj), stream
    previous = body.get("previous_response_id")
    if previous is not None and previous not in known:
        return 400, orjson.dumps({"error": {"message": f"Previous response with id '{previous}' not found.",
                                            "type": "invalid_request_error", "param": "previous_response_id",
                                            "code": "previous_response_not_found"}}), False
    obj = wire.response_object(comp, body)
    obj["id"] = f"resp_sim{seq}"
    for n, item in enumerate(obj["output"]):
        item["id"] = f"{'msg' if item['type'] == 'message' else 'fc'}_sim{seq}_{n}"
    known[obj["id"]] = {"response": obj, "input": body.get("input")}
    return 200, wire.response_sse(obj) if stream else orjson.dumps(obj), stream


def model_object(name: str, models: tuple[str, ...]) -> tuple[int, Obj]:
    if name in models:
        return 200, {"id": name, "object": "model", "created": 1700000000, "owned_by": "fireline-sim"}
    return 404, {"error": {"message": f"The model '{name}' does not exist", "type": "invalid_request_error",
                           "param": None, "code": "model_not_found"}}


def stored_response(path: str, method: str, known: dict[str, Obj]) -> tuple[int, Obj]:
    """GET /v1/responses/{id}, its /input_items, DELETE /v1/responses/{id}."""
    rest = path.split("/responses/", 1)[1]
    rid, _, sub = rest.partition("/")
    entry = known.get(rid)
    if entry is None:
        return 404, {"error": {"message": f"No response found with id '{rid}'.", "type": "invalid_request_error",
                               "param": None, "code": None}}
    if method == "DELETE":
        known.pop(rid, None)
        return 200, {"id": rid, "object": "response", "deleted": True}
    if sub == "input_items":
        items = entry["input"]
        items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": items}]}] \
            if isinstance(items, str) else items or []
        data = [{"id": f"msg_in_{rid}_{n}", **it} for n, it in enumerate(items)]
        return 200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                     "last_id": data[-1]["id"] if data else None, "has_more": False}
    return 200, dict(entry["response"])
