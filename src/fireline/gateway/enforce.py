"""Containment in the request path: what each active control does before and after the upstream.

Works on the `Enforcement` the control plane resolves per request (fireline.controls.state):
kill, fallback_message, model, prompt, disabled_tools, read_only, rate_limits, guardrails,
block_patterns, inject. Pure functions over the request body and the completion dict.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from fireline.config import AppConfig
from fireline.controls.state import counter_key, rate_key
from fireline.gateway import inline
from fireline.gateway.responses import message_of


@dataclass(slots=True)
class Outcome:
    """What the controls did to one call: header ids, log status, guardrail decisions, notes."""

    controls: list[str] = field(default_factory=list)
    status: str = "ok"
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    refused_tools: list[dict[str, Any]] = field(default_factory=list)

    def acted(self, control: Any, status: str | None = None) -> None:
        if control.id not in self.controls:
            self.controls.append(control.id)
        if status == "blocked" or (status == "contained" and self.status == "ok"):
            self.status = status


@dataclass(frozen=True, slots=True)
class Stop:
    """Answer without (more of) the upstream: a fallback message, or a 429."""

    control: Any
    message: str
    retry_after: float | None = None
    code: str = "rate_limit_exceeded"


def is_active(enf: Any) -> bool:
    return enf is not None and bool(enf.active)


def needs_output(enf: Any) -> bool:
    """Whether the answer must be inspected whole before the caller sees it (streams are buffered)."""
    return enf is not None and bool(enf.guardrails or enf.disabled_tools or enf.read_only or enf.inject
                                    or any(on == "output" for _, _, on in enf.block_patterns))


def fallback_text(enf: Any, app: AppConfig) -> str:
    if enf is not None and enf.kill is not None and enf.kill.params.get("message"):
        return str(enf.kill.params["message"])
    return (enf.fallback_message if enf is not None else None) or app.fallback


def message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def tool_block(name: str, enf: Any, app: AppConfig) -> Any:
    """The control that forbids tool `name`: disable_tool, or read_only for a tool the app's config
    declares write (the control plane folds read_only into disabled_tools; the second check keeps
    hand-built states honest)."""
    control = enf.disabled_tools.get(name)
    if control is None and enf.read_only is not None and app.tools.get(name) == "write":
        control = enf.read_only
    return control


def budget_limit(control: Any) -> tuple[str, float, float]:
    """(unit, limit, window seconds) of a budget control."""
    unit = "tokens" if "tokens" in control.params else "usd"
    return unit, float(control.params[unit]), float(control.params.get("window_s") or 3600.0)


def _budget_slot(control: Any, key: str) -> str:
    return f"budget|{control.id}|{key}"


def spend(enf: Any, counter: Any, *, tokens: float, usd: float, who: dict[str, str | None],
          now: float) -> list[dict[str, Any]]:
    """Count a finished call against its budgets; the budgets it took over their limit."""
    over = []
    for control in enf.budgets:
        key = rate_key(control, **who)
        if key is None:
            continue
        unit, limit, window = budget_limit(control)
        amount = tokens if unit == "tokens" else usd
        if amount <= 0:
            continue
        total = counter.add(_budget_slot(control, key), amount, window, now)
        if total > limit:
            over.append({"control": control.id, "unit": unit, "limit": limit, "spent": round(total, 6),
                         "per": control.params.get("per"), "key": key.split(":", 1)[0]})
    return over


# How a 429 names the limit's scope and what it counts per: words, never the caller's values.
_NOUN = {"key": "API key"}


def limit_message(control: Any, key: str) -> str:
    """`rate limit reached (2 requests per minute per user on this app); retry later`: the scope
    the control was applied to and what it counts per, without any id, name or content."""
    per, _, value = key.partition(":")
    noun = _NOUN.get(per, per)
    if value == "anonymous":
        counted = f"shared by requests without a {noun}"
    elif per in control.scope:
        counted = f"for this {noun}"
    else:
        counted = f"per {noun}"
    where = [f"this {_NOUN.get(k, k)}" for k in ("app", "model", "tool", "tenant", "cohort", "session", "key", "user")
             if k in control.scope and k != per]
    if not control.scope:  # a global control
        where = ["every app"]
    n = float(control.params.get("per_minute") or 0)
    rate = f"{n:g} request{'' if n == 1 else 's'} per minute"
    return f"rate limit reached ({rate} {counted}{' on ' + ' and '.join(where) if where else ''}); retry later"


def before(enf: Any, body: dict[str, Any], app: AppConfig, out: Outcome, *, limiter: Any,
           who: dict[str, str | None], now: float) -> Stop | None:
    """Apply the request-side controls to `body` in place; a Stop means do not call the upstream.
    `who`: the request's user, tenant, session and key (the API key id) for per-key counters."""
    if enf.kill is not None:
        out.acted(enf.kill, "contained")
        return Stop(enf.kill, fallback_text(enf, app))
    for control in enf.rate_limits:
        key = counter_key(control, **who)
        wait = limiter.check(control, key, now)
        if wait is not None:
            out.acted(control, "contained")
            return Stop(control, limit_message(control, key), retry_after=max(1, math.ceil(wait)))
    for control in enf.budgets:
        budget_key = rate_key(control, **who)
        if budget_key is None:
            continue
        unit, limit, window = budget_limit(control)
        wait = limiter.counter.take(_budget_slot(control, budget_key), 0.0, limit, window, now)
        if wait is not None:
            out.acted(control, "contained")
            per_what = budget_key.split(":", 1)[0]
            out.notes["budget"] = {"control": control.id, "unit": unit, "limit": limit, "blocked": True,
                                   "per": control.params.get("per"), "key": per_what}
            what = f"${limit:g}" if unit == "usd" else f"{limit:g} tokens"
            return Stop(control, f"budget of {what} per {control.params.get('per')} for this {per_what} is spent; "
                                 "retry later",
                        retry_after=max(1, math.ceil(wait)), code="budget_exceeded")
    messages = body.get("messages") or []
    if any(on == "input" for _, _, on in enf.block_patterns):
        text = "\n".join(message_text(m.get("content")) for m in messages
                         if isinstance(m, dict) and m.get("role") not in ("system", "developer"))
        for control, pattern, on in enf.block_patterns:
            if on == "input" and pattern.search(text):
                out.acted(control, "contained")
                return Stop(control, fallback_text(enf, app))
    if enf.model is not None:
        control, model = enf.model
        if body.get("model") != model:
            out.notes["model_pinned"] = model
            body["model"] = model
            out.acted(control)
    if enf.prompt is not None:
        control, version, text = enf.prompt
        pin_prompt(body, text)
        out.notes["prompt_pinned"] = version
        out.acted(control)
    if (enf.disabled_tools or enf.read_only) and body.get("tools"):
        filter_tools(body, enf, app, out)
    return None


def pin_prompt(body: dict[str, Any], text: str) -> None:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    rest = [m for m in messages if m.get("role") not in ("system", "developer")]
    body["messages"] = [{"role": "system", "content": text}, *rest]


def filter_tools(body: dict[str, Any], enf: Any, app: AppConfig, out: Outcome) -> None:
    kept, removed = [], []
    for tool in body["tools"]:
        name = (tool.get("function") or {}).get("name") if isinstance(tool, dict) else None
        control = tool_block(name, enf, app) if name else None
        if control is None:
            kept.append(tool)
        else:
            removed.append(name)
            out.acted(control)
    if not removed:
        return
    out.notes["tools_removed"] = removed
    choice = body.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if kept:
        body["tools"] = kept
        if named in removed:
            body["tool_choice"] = "auto"
    else:
        body.pop("tools", None)
        body.pop("tool_choice", None)
        body.pop("parallel_tool_calls", None)


def injected(enf: Any, model: str, cohort: str | None, prompt_version: str | None) -> dict[str, Any] | None:
    """The drill's scripted bad answer, only for its cohort.

    params: output (or outputs, one picked per request), tool_calls ({name, arguments} or OpenAI
    form), usage, and `when` ({model?, prompt_version?}): the fault follows the version that is in
    effect after pins, so rolling back the model or prompt ends it, as it would a real regression.
    """
    control = enf.inject
    if control is None:
        return None
    params = control.params
    want = params.get("cohort")
    if want and want != cohort:
        return None
    when = params.get("when") or {}
    if "model" in when and when["model"] != model:
        return None
    if "prompt_version" in when and when["prompt_version"] != prompt_version:
        return None
    from fireline.gateway.responses import completion

    outputs = params.get("outputs") or [params.get("output", "")]
    text = str(random.choice(outputs)) if outputs else ""
    calls = [_tool_call(c, i) for i, c in enumerate(params.get("tool_calls") or [])]
    usage = params.get("usage")
    if usage:
        usage = {**usage, "total_tokens": int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))}
    return completion(text or None if calls else text, model, calls or None, usage=usage)


def _tool_call(call: dict[str, Any], i: int) -> dict[str, Any]:
    if "function" in call:
        return call
    args = call.get("arguments", {})
    return {"id": f"call_drill_{i}", "type": "function",
            "function": {"name": call.get("name", "unknown"),
                         "arguments": args if isinstance(args, str) else orjson.dumps(args).decode()}}


def after(enf: Any, comp: dict[str, Any], app: AppConfig, out: Outcome, detectors: inline.InlineDetectors,
          record: dict[str, Any]) -> Stop | None:
    """Apply the response-side controls to the completion in place; a Stop replaces it by the fallback."""
    msg = message_of(comp)
    calls = msg.get("tool_calls") or []
    if calls and (enf.disabled_tools or enf.read_only):
        kept = []
        for call in calls:
            name = (call.get("function") or {}).get("name", "")
            control = tool_block(name, enf, app)
            if control is None:
                kept.append(call)
            else:
                out.acted(control, "contained")
                out.refused_tools.append({**call, "refused_by": control.id})
        if len(kept) != len(calls):
            refused = ", ".join(sorted({c["function"].get("name", "") for c in out.refused_tools}))
            if kept:
                msg["tool_calls"] = kept
            else:
                msg.pop("tool_calls", None)
                msg["content"] = (msg.get("content") or "") or f"The action {refused} is not available right now."
                comp["choices"][0]["finish_reason"] = "stop"
    text = msg.get("content") if isinstance(msg.get("content"), str) else ""
    for control, pattern, on in enf.block_patterns:
        if on == "output" and text and pattern.search(text):
            out.acted(control, "blocked")
            return Stop(control, fallback_text(enf, app))
    if enf.guardrails:
        record["output"] = text
        hits = detectors.output_hits(record)
        for control in enf.guardrails:
            chosen = inline.select(hits, control.params)
            action = str(control.params.get("action", "block"))
            decision = {"control": control.id, "action": action if chosen else "pass",
                        "detectors": sorted({h.detector for h in chosen}), "findings": len(chosen)}
            out.guardrails.append(decision)
            if not chosen:
                continue
            if action == "block":
                out.acted(control, "blocked")
                return Stop(control, fallback_text(enf, app))
            text = inline.redact(text or "", chosen)
            msg["content"] = text
            out.acted(control, "contained")
    return None
