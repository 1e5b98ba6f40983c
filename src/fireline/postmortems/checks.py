"""The analytic sections of a post-mortem: reproduction (logging gaps), guardrail assessment,
and regression eval cases derived from the linked calls. Content is read redacted only."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding, CallRaw
from fireline.config import Config
from fireline.detect.detectors import DETECTOR_NAMES
from fireline.detect.policies import load_policies

# Which detectors should catch an incident of each type.
EXPECTED = {"data_leakage": ["pii", "secrets", "canary"], "harmful_output": ["harmful_output"],
            "policy_bypass": ["prompt_injection", "harmful_output"], "prompt_injection": ["prompt_injection"],
            "agentic_harm": ["tool_policy"], "hallucination": ["grounding"], "capability_loss": ["refusal"],
            "data_poisoning": ["grounding", "prompt_injection"]}
NOT_EFFECTS = ("pii_input", "secret_input")
MAX_CALLS = 200
MAX_CASES = 20


def load_calls(session: Session, call_ids: list[str]) -> tuple[list[Call], set[str], dict[str, list[CallFinding]]]:
    ids = call_ids[:MAX_CALLS]
    calls = list(session.scalars(select(Call).where(Call.id.in_(ids)))) if ids else []
    raw = set(session.scalars(select(CallRaw.call_id).where(CallRaw.call_id.in_(ids)))) if ids else set()
    found: dict[str, list[CallFinding]] = {i: [] for i in ids}
    if ids:
        for f in session.scalars(select(CallFinding).where(CallFinding.call_id.in_(ids)).order_by(CallFinding.id)):
            found[f.call_id].append(f)
    order = {c: i for i, c in enumerate(ids)}
    calls.sort(key=lambda c: order[c.id])
    return calls, raw, found


def reproduction(call_ids: list[str], calls: list[Call], raw: set[str]) -> dict[str, Any]:
    """Can each linked call be replayed from the log? Which fields were not logged?"""
    rag_apps = set()
    tool_apps = set()
    contents = {c.id: orjson.loads(c.content) for c in calls}
    for c in calls:
        if contents[c.id].get("retrieval"):
            rag_apps.add(c.app)
        if contents[c.id].get("tool_calls"):
            tool_apps.add(c.app)
    rows = []
    gaps: Counter[str] = Counter()
    by_id = {c.id: c for c in calls}
    present = set(by_id)
    for cid in call_ids[:MAX_CALLS]:
        if cid not in present:
            rows.append({"call_id": cid, "replayable": False, "missing": ["call record (erased or expired)"]})
            gaps["call record"] += 1
            continue
        c = by_id[cid]
        body = contents[cid]
        missing: list[str] = []
        if not body.get("input"):
            missing.append("input messages")
        if not body.get("system_prompt") and not (c.system_prompt_sha256 and c.prompt_version):
            missing.append("system prompt (or its hash and prompt_version)")
        if not c.model_resolved:
            missing.append("model_resolved")
        if c.app in rag_apps and not body.get("retrieval"):
            missing.append("retrieval")
        if c.app in tool_apps and not body.get("tool_calls"):
            missing.append("tool_calls")
        if c.has_raw and cid not in raw:
            missing.append("raw content (purged by retention)")
        gaps.update(missing)
        rows.append({"call_id": cid, "replayable": not missing, "missing": missing})
    ok = sum(1 for r in rows if r["replayable"])
    return {"linked_calls": len(call_ids), "checked": len(rows), "replayable": ok,
            "gaps": dict(gaps.most_common()), "calls": rows[:50]}


def guardrails(inc_type: str, config: Config, found: dict[str, list[CallFinding]]) -> dict[str, Any]:
    section = config.detectors or {}
    enabled = [n for n in DETECTOR_NAMES if (section.get(n) or {}).get("enabled", True)]
    fired: Counter[str] = Counter()
    for fs in found.values():
        fired.update({f.detector for f in fs if f.kind not in NOT_EFFECTS})
    expected = EXPECTED.get(inc_type, [])
    rows = []
    for det in expected:
        on = det in enabled
        n = fired.get(det, 0)
        verdict = ("fired" if n else "on but silent: a detection gap") if on else "off: should have been on"
        rows.append({"detector": det, "enabled": on, "fired_on_calls": n, "verdict": verdict})
    caught = any(r["fired_on_calls"] for r in rows)
    summary = ("no detector is expected for this type" if not expected else
               "caught by a guardrail" if caught else "gap: none of the expected detectors fired")
    return {"enabled": enabled, "fired": dict(fired.most_common()), "expected": rows, "summary": summary}


def _expectation(inc_type: str, call: Call, body: dict[str, Any], fs: list[CallFinding],
                 tools: dict[str, str]) -> dict[str, Any]:
    effects = [f for f in fs if f.kind not in NOT_EFFECTS]
    silent = sorted({f.detector for f in effects})
    exp: dict[str, Any] = {}
    if inc_type == "data_leakage":
        entities = sorted({f.entity for f in effects if f.entity})
        if entities:
            exp["must_not_contain_entities"] = entities
    elif inc_type in ("harmful_output", "policy_bypass", "prompt_injection"):
        exp["must_refuse"] = True
    elif inc_type == "agentic_harm":
        called = [t.get("name") for t in body.get("tool_calls") or [] if isinstance(t, dict)]
        writes = sorted({n for n in called if n and (tools.get(n) == "write" or not tools)})
        if writes:
            exp["must_not_call_tools"] = writes
    elif inc_type == "hallucination":
        exp["must_be_grounded"] = True
    elif inc_type == "capability_loss":
        exp["must_not_refuse"] = True
    if silent:
        exp["detectors_must_stay_silent"] = silent
    return exp


def regression_cases(incident_id: str, inc_type: str, config: Config, calls: list[Call],
                     found: dict[str, list[CallFinding]]) -> list[dict[str, Any]]:
    """Candidate eval cases: the logged (redacted) input and what must hold on a re-run."""
    cases: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for c in calls:
        body = orjson.loads(c.content)
        messages = body.get("input") or []
        if not messages:
            continue
        key = orjson.dumps(messages)
        if key in seen:
            continue
        seen.add(key)
        tools: dict[str, str] = dict(config.app(c.app).tools)
        exp = _expectation(inc_type, c, body, found.get(c.id, []), tools)
        if not exp:
            continue
        cases.append({"id": f"{incident_id}-case-{len(cases) + 1}", "source_call": c.id, "app": c.app,
                      "model": c.model_resolved or c.model, "prompt_version": c.prompt_version,
                      "system_prompt_sha256": c.system_prompt_sha256, "input": messages, "expect": exp})
        if len(cases) >= MAX_CASES:
            break
    return cases


def policies(config: Config, found: dict[str, list[CallFinding]]) -> list[dict[str, Any]]:
    """The declared policies the linked calls broke, with the rule as configured and the count."""
    declared = {r.name: r for r in load_policies(config.section("policies"))}
    calls: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    for fs in found.values():
        names = set()
        for f in fs:
            if f.detector.startswith("policy:"):
                name = f.detector.removeprefix("policy:")
                names.add(name)
                kinds.setdefault(name, set()).add(f.kind)
        calls.update(names)
    out = []
    for name, n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        rule = declared.get(name)
        out.append({"name": name, "calls": n, "kinds": sorted(kinds[name]), "declared": rule is not None,
                    "type": rule.type if rule else None, "severity": rule.severity if rule else None,
                    "action": rule.action if rule else None, "target": rule.target if rule else None,
                    "app": rule.app if rule else None})
    return out
