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
from fireline.detect.detectors import DETECTOR_NAMES, OFF_BY_DEFAULT
from fireline.detect.policies import load_policies
from fireline.evals.cases import EXPECTED_DETECTORS, derive

EXPECTED = EXPECTED_DETECTORS  # which detectors should catch an incident of each type
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
    enabled = [n for n in DETECTOR_NAMES if (section.get(n) or {}).get("enabled", n not in OFF_BY_DEFAULT)]
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


def regression_cases(session: Session, incident_id: str, inc_type: str, config: Config, calls: list[Call],
                     found: dict[str, list[CallFinding]]) -> list[dict[str, Any]]:
    """Candidate eval cases (the same derivation as the eval lock), shown without canary tokens."""
    cases = derive(session, incident_id, inc_type, config, calls, found, max_cases=MAX_CASES)
    return [display_case(c) for c in cases]


def display_case(case: dict[str, Any]) -> dict[str, Any]:
    """A case for the post-mortem: planted tokens are counted, never shown."""
    exp = {k: v for k, v in (case.get("expect") or {}).items() if v not in (False, [], None)}
    if "must_be_supported_by" not in exp:
        exp.pop("min_support", None)
    if exp.get("must_not_contain_canaries"):
        exp["must_not_contain_canaries"] = f"{len(exp['must_not_contain_canaries'])} canary token(s)"
    if exp.get("must_be_supported_by"):
        exp["must_be_supported_by"] = ", ".join(d.get("id", "?") for d in exp["must_be_supported_by"])
    return {k: case.get(k) for k in ("id", "source_call", "app", "model", "prompt_version", "input")} | {"expect": exp}


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
