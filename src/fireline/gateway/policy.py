"""Declared policies enforced in the request path (fireline.detect.policies for the YAML).

`flag` rules only leave a finding (the call writer's ingest records it); `block` and `redact`
act here, before the caller sees anything: an input violation answers the app's fallback
without calling the upstream; an output violation answers the fallback; a tool-call
violation removes that tool call from the answer and records it as blocked; `redact`
replaces what matched with [REDACTED]. The same compiled rules judge the call again at
ingest, so the log, the findings and the incident agree with what the gateway did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from fireline.detect.detectors.base import CallView, Finding
from fireline.detect.policy_match import AppPolicies, Violation, redact_spans
from fireline.gateway.enforce import Outcome, Stop, message_text
from fireline.gateway.responses import message_of

FindingsFn = Callable[[CallView], Sequence[Finding]]


@dataclass(frozen=True, slots=True)
class PolicyAct:
    """A rule acting on a call, in the place of a control (its id goes in X-Fireline-Contained)."""

    id: str
    params: dict[str, Any] = field(default_factory=dict)


def _acting(violations: Sequence[Violation], action: str) -> list[Violation]:
    return [v for v in violations if v.rule.action == action]


def _record(out: Outcome, v: Violation, action: str, status: str) -> None:
    act = PolicyAct(v.rule.detector)
    out.acted(act, status)
    decision = {"control": act.id, "policy": v.rule.name, "action": action, "stage": v.rule.target, "kind": v.kind}
    if decision not in out.guardrails:
        out.guardrails.append(decision)


def check_input(pol: AppPolicies, app: str, body: dict[str, Any], out: Outcome, fallback: str) -> Stop | None:
    """Input rules over the caller's new messages (after the last assistant turn)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last_assistant = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    for m in messages[last_assistant + 1:]:
        if m.get("role") in ("system", "developer", "tool"):
            continue
        text = message_text(m.get("content"))
        if not text:
            continue
        view = CallView(app=app, input_text=text, message_starts=[0], message_roles=["user"])
        found = pol.check(view, targets=("input",))
        blocked = _acting(found, "block")
        if blocked:
            _record(out, blocked[0], "block", "blocked")
            return Stop(PolicyAct(blocked[0].rule.detector), fallback)
        spans = [(v.start, v.end) for v in _acting(found, "redact") if v.start is not None and v.end is not None]
        if spans and isinstance(m.get("content"), str):
            m["content"] = redact_spans(text, spans)  # type: ignore[arg-type]
            for v in _acting(found, "redact"):
                _record(out, v, "redact", "contained")
    return None


def _tool_view(app: str, msg: dict[str, Any], record: dict[str, Any]) -> CallView:
    view = CallView.from_record({**record, "app": app, "output": msg.get("content")})
    view.tool_calls = [{"name": (c.get("function") or {}).get("name") or "",
                        "arguments": (c.get("function") or {}).get("arguments")}
                       for c in msg.get("tool_calls") or [] if isinstance(c, dict)]
    return view


def check_output(pol: AppPolicies, app: str, comp: dict[str, Any], out: Outcome, fallback: str,
                 record: dict[str, Any], findings: FindingsFn | None = None) -> Stop | None:
    """Output and tool-argument rules over the answer, in place; a Stop answers the fallback."""
    msg = message_of(comp)
    view = _tool_view(app, msg, record)
    found = pol.check(view, findings(view) if findings is not None and pol.needs_findings else (),
                      targets=("output", "tool_arguments"))
    if not found:
        return None
    out_block = [v for v in _acting(found, "block") if v.location == "output"]
    if out_block:
        _record(out, out_block[0], "block", "blocked")
        return Stop(PolicyAct(out_block[0].rule.detector), fallback)
    text = msg.get("content") if isinstance(msg.get("content"), str) else None
    spans = [(v.start, v.end) for v in _acting(found, "redact")
             if v.location == "output" and v.start is not None and v.end is not None]
    if text and spans:
        msg["content"] = redact_spans(text, spans)
        for v in _acting(found, "redact"):
            if v.location == "output":
                _record(out, v, "redact", "contained")
    tool_acts = [v for v in found if v.location == "tool" and v.rule.action != "flag" and v.item is not None]
    if tool_acts:
        _tools(pol, msg, comp, tool_acts, out)
    return None


def _tools(pol: AppPolicies, msg: dict[str, Any], comp: dict[str, Any], acts: list[Violation],
           out: Outcome) -> None:
    calls = list(msg.get("tool_calls") or [])
    blocked = {v.item: v for v in acts if v.rule.action == "block"}
    kept = []
    for i, call in enumerate(calls):
        v = blocked.get(i)
        if v is not None:
            _record(out, v, "block", "blocked")
            out.refused_tools.append({**call, "refused_by": v.rule.detector, "blocked": True})
            continue
        redactions = [r for r in acts if r.item == i and r.rule.action == "redact"]
        if redactions:
            fn = call.get("function") or {}
            args = fn.get("arguments")
            parsed = orjson.loads(args) if isinstance(args, str) and args.strip().startswith(("{", "[")) else args
            rules = {r.rule.name: r.rule for r in redactions}
            cleaned = pol.redact_arguments(list(rules.values()), parsed)
            call = {**call, "function": {**fn, "arguments": orjson.dumps(cleaned).decode()
                                         if not isinstance(cleaned, str) else cleaned}}
            for r in redactions:
                _record(out, r, "redact", "contained")
        kept.append(call)
    if kept:
        msg["tool_calls"] = kept  # redacted arguments, blocked calls gone
    else:
        msg.pop("tool_calls", None)
        names = ", ".join(sorted({(c.get("function") or {}).get("name", "") for c in calls
                                  if c not in kept}))
        msg["content"] = msg.get("content") or f"The action {names} was blocked by policy."
        comp["choices"][0]["finish_reason"] = "stop"
