"""OpenAI wire shapes besides chat completions: the Responses API, legacy completions, embeddings.

The gateway enforces controls and logs calls over one internal shape, the chat completion
(request: `{"model", "messages", "tools"?, "user"?}`; answer: `{"choices": [{"message"}], "usage"}`).
Each API here has a `view` (its request as that shape), a `comp` (its answer as that shape), and
the way back (`wire`): a Responses object or a text completion built from a chat completion,
keeping the upstream's own object (ids, extra items) where the controls did not change it.
The simulator builds its answers with the same functions, so both ends speak one dialect.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from ulid import ULID

from fireline.gateway.responses import completion

Obj = dict[str, Any]

# ---- Responses API: requests ----


def _parts_text(content: Any) -> str | list[Obj] | None:
    """Responses content (a string or input_text/output_text parts) as chat content."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[Obj] = []
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                parts.append({"type": "text", "text": part["text"]})
            elif isinstance(part.get("refusal"), str):
                parts.append({"type": "text", "text": part["refusal"]})
            else:
                parts.append({"type": str(part.get("type") or "unknown")})
        if all(p["type"] == "text" for p in parts):
            return "\n".join(p["text"] for p in parts)
        return parts
    return None


def response_view(body: Obj) -> tuple[Obj, list[tuple[Obj, int | None]]]:
    """A Responses request as a chat request, and for each chat message the input item it came
    from (None: the instructions), so changes the controls make can be written back."""
    messages: list[Obj] = []
    origins: list[tuple[Obj, int | None]] = []
    if isinstance(body.get("instructions"), str):
        msg = {"role": "system", "content": body["instructions"]}
        messages.append(msg)
        origins.append((msg, None))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": item.get("call_id"), "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments")}}]}
        elif kind == "function_call_output":
            output = item.get("output")
            msg = {"role": "tool", "tool_call_id": item.get("call_id"),
                   "content": output if isinstance(output, str) else _parts_text(output)}
        elif isinstance(item.get("role"), str):
            msg = {"role": item["role"], "content": _parts_text(item.get("content"))}
        else:
            continue  # reasoning, item references, built-in tool items: passed through, not logged as text
        messages.append(msg)
        origins.append((msg, i))
    view: Obj = {"model": body.get("model"), "messages": messages, "stream": bool(body.get("stream"))}
    user = body.get("user") if isinstance(body.get("user"), str) else body.get("safety_identifier")
    if isinstance(user, str):
        view["user"] = user
    tools = [{"type": "function", "function": {k: t[k] for k in ("name", "description", "parameters") if k in t}}
             for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    if tools:
        view["tools"] = tools
    return view, origins


def response_apply(body: Obj, view: Obj, origins: list[tuple[Obj, int | None]],
                   snapshot: list[Any], notes: Obj) -> None:
    """Write what the request-side controls changed in `view` back into the Responses `body`."""
    body["model"] = view.get("model")
    items = body.get("input")
    for (msg, index), before in zip(origins, snapshot, strict=True):
        if msg.get("content") is before or not isinstance(msg.get("content"), str):
            continue
        if index is None:
            body["instructions"] = msg["content"]
        elif isinstance(items, list):
            item = items[index]
            item["content"] = msg["content"] if isinstance(item.get("content"), str) or item.get("type") != "message" \
                else [{"type": "input_text", "text": msg["content"]}]
        elif isinstance(items, str):
            body["input"] = msg["content"]
    if "prompt_pinned" in notes:
        system = next((m for m in view["messages"] if m.get("role") == "system"), None)
        body["instructions"] = system["content"] if system else None
        if isinstance(items, list):
            body["input"] = [it for it in items if not (isinstance(it, dict) and it.get("role") in
                                                        ("system", "developer"))]
    removed = set(notes.get("tools_removed") or ())
    if removed and isinstance(body.get("tools"), list):
        kept = [t for t in body["tools"] if not (isinstance(t, dict) and t.get("type") == "function"
                                                 and t.get("name") in removed)]
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("name") in removed:
            body["tool_choice"] = "auto"
        if kept:
            body["tools"] = kept
        else:
            for key in ("tools", "tool_choice", "parallel_tool_calls"):
                body.pop(key, None)


# ---- Responses API: answers ----


def response_comp(obj: Obj) -> Obj:
    """A Responses object as a chat completion (the text, the function calls, the usage)."""
    texts: list[str] = []
    calls: list[Obj] = []
    for item in obj.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict):
                    text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
                    if isinstance(text, str):
                        texts.append(text)
        elif item.get("type") == "function_call":
            calls.append({"id": item.get("call_id"), "type": "function",
                          "function": {"name": item.get("name"), "arguments": item.get("arguments")}})
    raw_usage = obj.get("usage")
    usage: Obj | None = None
    if isinstance(raw_usage, dict):
        i, o = raw_usage.get("input_tokens"), raw_usage.get("output_tokens")
        usage = {"prompt_tokens": i, "completion_tokens": o,
                 "total_tokens": raw_usage.get("total_tokens")}
    comp = completion("".join(texts) if texts or not calls else None, str(obj.get("model") or ""), calls or None,
                      usage=usage, cid=str(obj.get("id") or "") or None)
    comp["usage"] = usage
    return comp


def _message_item(text: str) -> Obj:
    return {"id": f"msg_fl{ULID()}", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def response_object(comp: Obj, request: Obj, base: Obj | None = None) -> Obj:
    """The Responses object for a chat completion: the upstream's own (`base`) with its text and
    function calls replaced by the completion's, or a new one (fallbacks, drills)."""
    msg = (comp.get("choices") or [{}])[0].get("message") or {}
    text = msg.get("content") if isinstance(msg.get("content"), str) else None
    calls = msg.get("tool_calls") or []
    kept_ids = {c.get("id") for c in calls}
    output: list[Obj] = []
    placed = False
    for item in (base or {}).get("output") or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            if not placed and text is not None:
                output.append({**item, "content": [{"type": "output_text", "text": text, "annotations": [],
                                                    "logprobs": []}]})
                placed = True
        elif kind == "function_call":
            if item.get("call_id") in kept_ids:
                output.append(item)
                kept_ids.discard(item.get("call_id"))
        else:
            output.append(item)
    if text is not None and not placed:
        output.append(_message_item(text))
    for call in calls:
        if call.get("id") in kept_ids:
            fn = call.get("function") or {}
            output.append({"id": f"fc_fl{ULID()}", "type": "function_call", "status": "completed",
                           "call_id": call.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")})
    if base is not None:
        return {**base, "output": output}
    usage = comp.get("usage") or {}
    i, o = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {"id": f"resp_fl{ULID()}", "object": "response", "created_at": int(time.time()), "status": "completed",
            "error": None, "incomplete_details": None, "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"), "model": comp.get("model") or request.get("model"),
            "output": output, "parallel_tool_calls": True, "previous_response_id": request.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None}, "store": bool(request.get("store", True)),
            "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": request.get("tool_choice", "auto"),
            "tools": request.get("tools") or [], "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": i, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": o,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": i + o},
            "user": request.get("user"), "metadata": request.get("metadata") or {}}


def response_sse(obj: Obj, pieces: int = 4) -> bytes:
    """A whole Responses object as the event stream OpenAI sends (created ... completed)."""
    events: list[Obj] = []
    start = {**obj, "status": "in_progress", "output": [], "usage": None}
    events += [{"type": "response.created", "response": start}, {"type": "response.in_progress", "response": start}]
    for n, item in enumerate(obj.get("output") or []):
        kind = item.get("type")
        if kind == "message":
            events.append({"type": "response.output_item.added", "output_index": n,
                           "item": {**item, "status": "in_progress", "content": []}})
            for c, part in enumerate(item.get("content") or []):
                text = part.get("text") or ""
                events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": n,
                               "content_index": c, "part": {**part, "text": ""}})
                step = max(1, -(-len(text) // pieces))
                for k in range(0, len(text), step):
                    events.append({"type": "response.output_text.delta", "item_id": item["id"], "output_index": n,
                                   "content_index": c, "delta": text[k:k + step], "logprobs": []})
                events.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": n,
                               "content_index": c, "text": text, "logprobs": []})
                events.append({"type": "response.content_part.done", "item_id": item["id"], "output_index": n,
                               "content_index": c, "part": part})
        elif kind == "function_call":
            events.append({"type": "response.output_item.added", "output_index": n,
                           "item": {**item, "status": "in_progress", "arguments": ""}})
            args = item.get("arguments") or ""
            events.append({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                           "output_index": n, "delta": args})
            events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                           "output_index": n, "arguments": args, "name": item.get("name")})
        else:
            events.append({"type": "response.output_item.added", "output_index": n, "item": item})
        events.append({"type": "response.output_item.done", "output_index": n, "item": item})
    events.append({"type": "response.completed", "response": obj})
    out = []
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
        out.append(b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n")
    return b"".join(out)


def sse_data(raw: bytes) -> list[Obj]:
    """The JSON objects of an SSE stream's data lines (malformed ones skipped)."""
    out = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data and data != b"[DONE]":
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    return out


def response_assemble(raw: bytes) -> Obj:
    """The final Responses object of a relayed stream: the one its last lifecycle event carries,
    with the output items rebuilt from the item events when a broken stream never completed."""
    final: Obj | None = None
    items: dict[int, Obj] = {}
    texts: dict[int, list[str]] = {}
    for event in sse_data(raw):
        kind = event.get("type")
        if isinstance(event.get("response"), dict):
            final = event["response"]
        if kind in ("response.output_item.added", "response.output_item.done") and isinstance(event.get("item"), dict):
            items[int(event.get("output_index") or 0)] = event["item"]
        elif kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
            texts.setdefault(int(event.get("output_index") or 0), []).append(event["delta"])
    if final is None:
        final = {"id": None, "object": "response", "status": "incomplete", "output": [], "usage": None}
    if not final.get("output") and items:
        output = []
        for n in sorted(items):
            item = items[n]
            if item.get("type") == "message" and not item.get("content") and n in texts:
                item = {**item, "content": [{"type": "output_text", "text": "".join(texts[n]), "annotations": []}]}
            output.append(item)
        final = {**final, "output": output}
    return final


# ---- legacy completions ----


def completions_view(body: Obj) -> Obj:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        prompt = "\n".join(p if isinstance(p, str) else orjson.dumps(p).decode() for p in prompt)
    view: Obj = {"model": body.get("model"), "messages": [{"role": "user", "content": prompt}],
                 "stream": bool(body.get("stream"))}
    if isinstance(body.get("user"), str):
        view["user"] = body["user"]
    return view


def completions_apply(body: Obj, view: Obj, origins: list[tuple[Obj, int | None]], snapshot: list[Any],
                      notes: Obj) -> None:
    body["model"] = view.get("model")
    users = [m for m in view["messages"] if m.get("role") == "user"]
    if users and users[0].get("content") is not snapshot[0] and isinstance(users[0].get("content"), str):
        body["prompt"] = users[0]["content"]


def completions_comp(obj: Obj) -> Obj:
    choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else None
    comp = completion(first.get("text") if isinstance(first.get("text"), str) else None, str(obj.get("model") or ""),
                      finish_reason=first.get("finish_reason"), usage=usage, cid=str(obj.get("id") or "") or None)
    comp["usage"] = usage
    return comp


def completions_object(comp: Obj, request: Obj, base: Obj | None = None) -> Obj:
    msg = (comp.get("choices") or [{}])[0].get("message") or {}
    text = msg.get("content") if isinstance(msg.get("content"), str) else ""
    if base is not None and isinstance(base.get("choices"), list) and base["choices"]:
        return {**base, "choices": [{**base["choices"][0], "text": text}, *base["choices"][1:]]}
    return {"id": f"cmpl-fl{ULID()}", "object": "text_completion", "created": int(time.time()),
            "model": comp.get("model") or request.get("model"),
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": comp.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def completions_sse(obj: Obj, pieces: int = 4) -> bytes:
    base = {k: obj.get(k) for k in ("id", "object", "created", "model")}
    choice = (obj.get("choices") or [{}])[0]
    text = choice.get("text") or ""
    step = max(1, -(-len(text) // pieces))
    out = []
    for k in range(0, len(text), step):
        out.append({**base, "choices": [{"index": 0, "text": text[k:k + step], "finish_reason": None,
                                         "logprobs": None}]})
    out.append({**base, "choices": [{"index": 0, "text": "", "finish_reason": choice.get("finish_reason") or "stop",
                                     "logprobs": None}], "usage": obj.get("usage")})
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in out) + b"data: [DONE]\n\n"


def completions_assemble(raw: bytes) -> Obj:
    text: list[str] = []
    meta: Obj = {"id": None, "object": "text_completion", "created": 0, "model": None, "usage": None}
    finish = None
    for chunk in sse_data(raw):
        for key in meta:
            if chunk.get(key) and not meta[key]:
                meta[key] = chunk[key]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                if isinstance(choice.get("text"), str):
                    text.append(choice["text"])
                finish = choice.get("finish_reason") or finish
    return {**meta, "choices": [{"index": 0, "text": "".join(text), "finish_reason": finish, "logprobs": None}]}


# ---- embeddings ----


def embeddings_view(body: Obj) -> Obj:
    data = body.get("input")
    texts = [data] if isinstance(data, str) else data if isinstance(data, list) else []
    messages = [{"role": "user", "content": t if isinstance(t, str) else orjson.dumps(t).decode()} for t in texts]
    view: Obj = {"model": body.get("model"), "messages": messages, "stream": False}
    if isinstance(body.get("user"), str):
        view["user"] = body["user"]
    return view


def embeddings_apply(body: Obj, view: Obj, origins: list[tuple[Obj, int | None]], snapshot: list[Any],
                     notes: Obj) -> None:
    body["model"] = view.get("model")


def embeddings_comp(obj: Obj) -> Obj:
    raw_usage = obj.get("usage")
    prompt = raw_usage.get("prompt_tokens") if isinstance(raw_usage, dict) else None
    comp = completion(None, str(obj.get("model") or ""), usage={"prompt_tokens": prompt, "completion_tokens": 0,
                                                                 "total_tokens": prompt})
    comp["choices"] = []
    raw_data = obj.get("data")
    data: list[Any] = raw_data if isinstance(raw_data, list) else []
    first = data[0].get("embedding") if data and isinstance(data[0], dict) else None
    dims: int | None = None
    if isinstance(first, list):
        dims = len(first)
    elif isinstance(first, str):  # base64 of float32s: 4 bytes per dimension, 4 characters per 3 bytes
        dims = (len(first) * 3 // 4 - first.count("=")) // 4
    comp["embeddings"] = {"count": len(data), "dimensions": dims}
    return comp
