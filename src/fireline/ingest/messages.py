"""Chat messages in the two conventions, normalised to the call record's shape.

OTel GenAI: `gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions`
hold lists of `{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call", ...}]}`
(a JSON string on spans, structured on events); older instrumentations send OpenAI-style
`{"role", "content", "tool_calls"}`. OpenInference flattens messages into indexed keys:
`llm.input_messages.{i}.message.{role,content,contents.{j}.message_content.*,tool_calls.{j}.tool_call.*}`.

Every text ends up where the privacy pass redacts it: a message's `content` string, or the
`text` of a content part (tool-call arguments and results included).
"""

from __future__ import annotations

from typing import Any

from fireline.ingest.attrs import as_json, as_list, as_str

Message = dict[str, Any]
ToolCall = dict[str, Any]


def _part(part: Any) -> dict[str, Any] | None:
    """One GenAI / OpenAI content part as {"type", "text"?, ...}; binary data is dropped."""
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        return None
    kind = str(part.get("type") or "text")
    if kind in ("text", "reasoning", "input_text", "output_text", "refusal"):
        text = part.get("content", part.get("text", part.get("refusal")))
        return {"type": "reasoning" if kind == "reasoning" else "text", "text": as_str(text) or ""}
    if kind in ("tool_call", "function_call", "tool_use"):
        out: dict[str, Any] = {"type": "tool_call", "name": as_str(part.get("name"), 200) or "?",
               "text": as_str(part.get("arguments", part.get("input"))) or ""}
        if part.get("id") is not None:
            out["id"] = as_str(part.get("id"), 200)
        return out
    if kind in ("tool_call_response", "tool_result", "function_call_output"):
        result = part.get("result", part.get("response", part.get("content")))
        out = {"type": "tool_call_response", "text": as_str(result) or ""}
        if part.get("id") is not None:
            out["id"] = as_str(part.get("id"), 200)
        return out
    keep: dict[str, Any] = {"type": kind}
    for key in ("mime_type", "modality", "uri", "file_id"):
        if isinstance(part.get(key), str):
            keep[key] = part[key][:2000]
    return keep


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_calls_of(parts: list[dict[str, Any]]) -> list[ToolCall]:
    return [{"name": p["name"], "arguments": as_json(p["text"]) if p["text"] else None,
             **({"id": p["id"]} if p.get("id") else {})} for p in parts if p["type"] == "tool_call"]


def genai_message(raw: Any) -> tuple[Message, list[ToolCall]] | None:
    """One GenAI (or OpenAI-style) message: the normalised message and the tool calls it asks for."""
    if isinstance(raw, str):
        return {"role": "user", "content": raw}, []
    if not isinstance(raw, dict):
        return None
    role = as_str(raw.get("role"), 64) or "user"
    parts: list[dict[str, Any]] = []
    if isinstance(raw.get("parts"), list):
        parts = [p for p in map(_part, raw["parts"]) if p is not None]
    elif isinstance(raw.get("content"), list):
        parts = [p for p in map(_part, raw["content"]) if p is not None]
    elif raw.get("content") is not None:
        parts = [{"type": "text", "text": as_str(raw["content"]) or ""}]
    elif isinstance(raw.get("message"), dict):  # gen_ai.choice event body
        return genai_message({"role": "assistant", **raw["message"]})
    for tc in raw.get("tool_calls") or [] if isinstance(raw.get("tool_calls"), list) else []:
        if isinstance(tc, dict):
            fn: dict[str, Any] = tc["function"] if isinstance(tc.get("function"), dict) else tc
            part = _part({"type": "tool_call", "id": tc.get("id"), "name": fn.get("name"),
                          "arguments": fn.get("arguments")})
            if part:
                parts.append(part)
    msg: Message = {"role": role, "content": _content(parts)}
    if isinstance(raw.get("name"), str):
        msg["name"] = raw["name"][:200]
    return msg, _tool_calls_of(parts)


def genai_messages(value: Any) -> tuple[list[Message], list[ToolCall], list[str]]:
    """A gen_ai.*.messages value: messages, requested tool calls, finish reasons."""
    messages: list[Message] = []
    calls: list[ToolCall] = []
    reasons: list[str] = []
    for raw in as_list(value):
        got = genai_message(raw)
        if got is None:
            continue
        messages.append(got[0])
        calls.extend(got[1])
        if isinstance(raw, dict) and raw.get("finish_reason") is not None:
            reasons.append(as_str(raw["finish_reason"], 64) or "")
    return messages, calls, reasons


def instructions(value: Any) -> str | None:
    """gen_ai.system_instructions: a list of parts, a string, or a JSON string of either."""
    value = as_json(value)
    if isinstance(value, str):
        return value
    parts = [p for p in map(_part, as_list(value)) if p is not None]
    texts = [p.get("text", "") for p in parts if p["type"] == "text"]
    return "\n".join(texts) if texts else None


# ---- OpenInference flattened keys ----

def indexed(flat: dict[str, Any]) -> list[dict[str, Any]]:
    """{"0.message.role": "user", "1.message.content": "..."} -> [{"message.role": ...}, {...}]."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        idx, _, rest = key.partition(".")
        if idx.isdigit() and rest and len(idx) < 6:
            groups.setdefault(int(idx), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def _sub(fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    n = len(prefix)
    return {k[n:]: v for k, v in fields.items() if k.startswith(prefix)}


def oi_message(fields: dict[str, Any]) -> tuple[Message, list[ToolCall]]:
    """One OpenInference message from its `message.*` fields."""
    f: dict[str, Any] = {}
    nested = False
    for key, value in fields.items():
        if key.startswith("message."):
            key = key[8:]
        f[key] = value
        if not nested and key.startswith(("contents.", "tool_calls.")):
            nested = True
    role = as_str(f.get("role"), 64) or "user"
    content = f.get("content")
    if not nested:  # the common case: role and content only
        msg: Message = {"role": role, "content": as_str(content) or ""}
        calls: list[ToolCall] = []
    else:
        parts: list[dict[str, Any]] = []
        if content is not None:
            parts.append({"type": "text", "text": as_str(content) or ""})
        for c in indexed(_sub(f, "contents.")):
            c = _sub(c, "message_content.") or c
            if c.get("text") is not None or c.get("type") in (None, "text"):
                parts.append({"type": "text", "text": as_str(c.get("text")) or ""})
            else:
                part: dict[str, Any] = {"type": as_str(c.get("type"), 32) or "other"}
                url = c.get("image.image.url")
                if isinstance(url, str) and not url.startswith("data:"):
                    part["uri"] = url[:2000]
                parts.append(part)
        for tc in indexed(_sub(f, "tool_calls.")):
            tc = _sub(tc, "tool_call.") or tc
            call = _part({"type": "tool_call", "id": tc.get("id"), "name": tc.get("function.name"),
                          "arguments": tc.get("function.arguments")})
            if call:
                parts.append(call)
        msg = {"role": role, "content": _content(parts)}
        calls = _tool_calls_of(parts)
    if isinstance(f.get("name"), str):
        msg["name"] = f["name"][:200]
    if isinstance(f.get("tool_call_id"), str):
        msg["tool_call_id"] = f["tool_call_id"][:200]
    return msg, calls


def oi_messages(flat: dict[str, Any]) -> tuple[list[Message], list[ToolCall]]:
    messages: list[Message] = []
    calls: list[ToolCall] = []
    for fields in indexed(flat):
        msg, tcs = oi_message(fields)
        messages.append(msg)
        calls.extend(tcs)
    return messages, calls


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """Leading system/developer messages become the system prompt; the rest is the input."""
    i = 0
    texts: list[str] = []
    while i < len(messages) and messages[i]["role"] in ("system", "developer"):
        content = messages[i]["content"]
        texts.append(content if isinstance(content, str) else "\n".join(
            p.get("text", "") for p in content if p.get("type") == "text"))
        i += 1
    return ("\n\n".join(texts) if texts else None), messages[i:]


def output_text(messages: list[Message]) -> str | None:
    """The first choice's text (tool-call-only answers give an empty string)."""
    if not messages:
        return None
    content = messages[0]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
