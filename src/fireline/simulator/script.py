"""The simulator's script: rules that pick a mode per request (by header, or the newest matching
rule), and the answer each mode gives, as a chat completion or its SSE chunks. The HTTP server
around it is simulator.upstream (its docstring lists the modes and the `match` keys)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

MODES = ("normal", "refuse", "leak_pii", "leak_canary", "write_tool", "error", "slow",
         "token_explosion", "hallucination")
NORMAL_TEXT = "Thanks for reaching out. Your order ships tomorrow and should arrive within two days."
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
PII_TEXT = ("Sure. The account holder is Jane Roe, e-mail jane.roe@example.com, card 4111 1111 1111 1111, "
            "SSN 123-45-6789.")


MATCH_KEYS = ("user", "user_not_contains", "app", "model", "system_contains", "input_contains")


@dataclass
class Rule:
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    match: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # None: until reset
    rate: float = 1.0
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.match) - set(MATCH_KEYS)
        if unknown:
            raise ValueError(f"match keys must be among {', '.join(MATCH_KEYS)}; not {', '.join(sorted(unknown))}")
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.rng = random.Random(self.seed)

    def matches(self, user: str | None, app: str | None, body: dict[str, Any]) -> bool:
        m = self.match
        if "user" in m and m["user"] != user:
            return False
        if "user_not_contains" in m and m["user_not_contains"] in (user or ""):
            return False
        if "app" in m and m["app"] != app:
            return False
        if "model" in m and m["model"] != body.get("model"):
            return False
        if "system_contains" in m and m["system_contains"] not in _prompt_text(body, system=True):
            return False
        if "input_contains" in m and m["input_contains"] not in _prompt_text(body, system=False):
            return False
        return self.rate >= 1.0 or self.rng.random() < self.rate


@dataclass
class Script:
    """The global script: rules, newest first, and the last requests seen."""

    rules: list[Rule] = field(default_factory=list)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    count: int = 0

    def pick(self, user: str | None, app: str | None, body: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        for rule in list(self.rules):
            if rule.matches(user, app, body or {}):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule.mode, rule.params
        return "normal", {}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _prompt_text(body: dict[str, Any], system: bool | None = None) -> str:
    """The text of the messages: all of them, only the system ones (True) or only the others (False)."""
    out = []
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        if system is not None and (msg.get("role") in ("system", "developer")) != system:
            continue
        content = msg.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(out)


def answer(mode: str, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The scripted completion: {content, tool_calls, usage, finish_reason} or {error, status}."""
    prompt_tokens = _tokens(_prompt_text(body))
    tool_calls: list[dict[str, Any]] = []
    if mode == "error":
        status = int(params.get("status", 500))
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        return {"status": status, "retry_after": params.get("retry_after"),
                "error": {"message": params.get("message", f"simulated upstream error {status}"),
                          "type": kind, "param": None, "code": kind}}
    if mode == "refuse":
        content: str | None = REFUSAL_TEXT
    elif mode == "leak_pii":
        content = str(params.get("text", PII_TEXT))
    elif mode == "leak_canary":
        content = f"Here is the contract excerpt you asked about: reference {params.get('token', 'CANARY-0000')}."
    elif mode == "hallucination":
        doc = params.get("doc_id", "kb-9999")
        content = f"According to our policy document [{doc}], refunds are always granted within 90 days."
    elif mode == "write_tool":
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        name = params.get("tool") or (tools[0] if tools else "issue_refund")
        args = params.get("arguments", {"order_id": "A-1001", "amount": 500})
        tool_calls = [{"id": "call_sim_1", "type": "function",
                       "function": {"name": name, "arguments": orjson.dumps(args).decode()}}]
        content = None
    elif mode == "token_explosion":
        content = str(params.get("text", "Let me elaborate at length. " * 64))
    else:
        content = str(params.get("text", NORMAL_TEXT))
    completion_tokens = _tokens(content or "") + 8 * len(tool_calls)
    if mode == "token_explosion":
        completion_tokens = int(params.get("tokens", 250_000))
    return {"content": content, "tool_calls": tool_calls,
            "finish_reason": "tool_calls" if tool_calls else "stop",
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def completion_json(ans: dict[str, Any], model: str, cid: str, created: int) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": ans["content"]}
    if ans["tool_calls"]:
        message["tool_calls"] = ans["tool_calls"]
    return orjson.dumps({"id": cid, "object": "chat.completion", "created": created, "model": model,
                         "choices": [{"index": 0, "message": message, "finish_reason": ans["finish_reason"],
                                      "logprobs": None}],
                         "usage": ans["usage"], "system_fingerprint": "fp_fireline_sim"})


def stream_events(ans: dict[str, Any], model: str, cid: str, created: int, include_usage: bool) -> list[bytes]:
    """SSE events as OpenAI sends them: role, content pieces or tool-call fragments, finish, [DONE]."""
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    content = ans["content"] or ""
    step = max(8, len(content) // 6)
    for i in range(0, len(content), step):
        events.append(chunk({"content": content[i:i + step]}))
    for n, call in enumerate(ans["tool_calls"]):
        fn = call["function"]
        events.append(chunk({"tool_calls": [{"index": n, "id": call["id"], "type": "function",
                                             "function": {"name": fn["name"], "arguments": ""}}]}))
        args = fn["arguments"]
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            events.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]}))
    events.append(chunk({}, ans["finish_reason"], ans["usage"]))
    if include_usage:
        events.append(b"data: " + orjson.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                                "model": model, "choices": [], "usage": ans["usage"]}) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events
