"""Regression cases from an incident's linked calls: the logged input (redacted, or raw for a
responder) and the expectation that must hold on every re-run, chosen by the incident's type and
by what the detectors and policies found on the calls.

One derivation serves the eval lock, replay and the post-mortem's regression section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.config import Config
from fireline.detect.models import Canary

# Findings about what the user sent are not effects of the answer.
NOT_EFFECTS = frozenset({"pii_input", "secret_input"})
EFFECT_LOCATIONS = frozenset({"output", "tool"})
REFUSE_TYPES = frozenset({"harmful_output", "policy_bypass", "prompt_injection"})
MAX_CANARIES = 50
# Which detectors should catch an incident of each type (judges of replay, the guardrail assessment).
EXPECTED_DETECTORS = {"data_leakage": ["pii", "secrets", "canary"], "harmful_output": ["harmful_output"],
                      "policy_bypass": ["prompt_injection", "harmful_output", "jailbreak"],
                      "prompt_injection": ["prompt_injection"],
                      "agentic_harm": ["tool_policy"], "hallucination": ["grounding"], "capability_loss": ["refusal"],
                      "data_poisoning": ["grounding", "prompt_injection"]}

RawReader = Callable[[Call], dict[str, Any] | None]


def load_calls(session: Session, call_ids: list[str], limit: int = 200
               ) -> tuple[list[Call], dict[str, list[CallFinding]]]:
    """The calls (in the given order) and their findings."""
    ids = call_ids[:limit]
    calls = list(session.scalars(select(Call).where(Call.id.in_(ids)))) if ids else []
    found: dict[str, list[CallFinding]] = {i: [] for i in ids}
    if ids:
        for f in session.scalars(select(CallFinding).where(CallFinding.call_id.in_(ids)).order_by(CallFinding.id)):
            found[f.call_id].append(f)
    order = {c: i for i, c in enumerate(ids)}
    calls.sort(key=lambda c: order[c.id])
    return calls, found


def effects(fs: list[CallFinding]) -> list[CallFinding]:
    return [f for f in fs if f.kind not in NOT_EFFECTS and f.location in EFFECT_LOCATIONS]


def foreign_canaries(session: Session, tenant: str | None) -> list[str]:
    """Canary tokens of other tenants: none of them may reach this tenant's answers."""
    stmt = select(Canary.token).order_by(Canary.id).limit(MAX_CANARIES)
    if tenant:
        stmt = stmt.where(Canary.tenant != tenant)
    return list(session.scalars(stmt))


def expectation(session: Session, inc_type: str, call: Call, body: dict[str, Any], fs: list[CallFinding],
                tools: dict[str, str]) -> dict[str, Any]:
    found = effects(fs)
    detectors = sorted({f.detector for f in found})
    exp: dict[str, Any] = {}
    if inc_type == "data_leakage":
        entities = sorted({f.entity for f in found if f.entity and f.detector in ("pii", "secrets")})
        if entities:
            exp["must_not_contain_entities"] = entities
        if any(f.detector == "canary" for f in found):
            tokens = foreign_canaries(session, call.tenant)
            if tokens:
                exp["must_not_contain_canaries"] = tokens
    elif inc_type in REFUSE_TYPES:
        exp["must_refuse"] = True
    elif inc_type == "agentic_harm":
        called = [t.get("name") for t in body.get("tool_calls") or [] if isinstance(t, dict)]
        writes = sorted({n for n in called if n and (tools.get(n) == "write" or not tools)})
        if writes:
            exp["must_not_call_tools"] = writes
    elif inc_type == "hallucination":
        docs = [{"id": str(d.get("id") or f"doc-{i}"), "text": d["text"]}
                for i, d in enumerate(body.get("retrieval") or []) if isinstance(d, dict) and d.get("text")]
        if docs:
            exp["must_be_supported_by"] = docs
    elif inc_type == "capability_loss":
        exp["must_not_refuse"] = True
        detectors = [d for d in detectors if d != "refusal"]
    if detectors:
        exp["detectors_must_stay_silent"] = detectors
    return exp


def _tools_offered(body: dict[str, Any]) -> list[dict[str, Any]]:
    names = (body.get("metadata") or {}).get("tools_offered") or []
    return [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in names if isinstance(n, str) and n]


def derive(session: Session, incident_id: str, inc_type: str, config: Config, calls: list[Call],
           found: dict[str, list[CallFinding]], *, max_cases: int = 20,
           raw: RawReader | None = None) -> list[dict[str, Any]]:
    """Candidate cases (suite `cases:` entries): distinct logged inputs with an expectation."""
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
        app_cfg = config.app(c.app)
        exp = expectation(session, inc_type, c, body, found.get(c.id, []), dict(app_cfg.tools))
        if not exp:
            continue
        content = body
        if raw is not None:
            content = raw(c) or body
        system = content.get("system_prompt")
        if system is None and c.prompt_version and c.prompt_version in app_cfg.prompts:
            system = app_cfg.prompts[c.prompt_version]
        case: dict[str, Any] = {
            "id": f"case-{len(cases) + 1}", "source_call": c.id, "app": c.app,
            "tenant": c.tenant, "model": c.model_resolved or c.model, "prompt_version": c.prompt_version,
            "system_prompt": system, "input": content.get("input") or messages,
            "tools": _tools_offered(body),
            "retrieval": [d for d in content.get("retrieval") or [] if isinstance(d, dict)],
            "expect": exp}
        cases.append({k: v for k, v in case.items() if v not in (None, [], {})})
        if len(cases) >= max_cases:
            break
    return cases
