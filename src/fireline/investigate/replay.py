"""Replay: re-send an incident's logged inputs to the upstream N times and measure how often the
incident's detectors (and policies) still fire on the answers.

Each distinct logged input is a case. Its raw messages are read for the responder (each read
access-logged), with the system prompt in effect at the time (or a candidate: another prompt
version of the app, or a given text), the tools it was offered and its retrieval as logged, and
sent straight to the upstream (FIRELINE_UPSTREAM_URL or a named one): containment is bypassed and
nothing is written to the prompt log. The "current" arm uses what was logged; a "candidate" arm
(another prompt or model) runs beside it. With red-team expansion every case also runs its
variations (see redteam.py), and rates are given per variation family.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.calls.pricing import cost_usd, price_table
from fireline.calls.service import read_raw
from fireline.config import Config
from fireline.errors import Conflict, Invalid
from fireline.evals.cases import EXPECTED_DETECTORS, effects, load_calls
from fireline.evals.config import EvalsConfig
from fireline.evals.expect import Answer, Context, Judging
from fireline.evals.runner import Trial, TrialResult
from fireline.evals.stats import wilson
from fireline.incidents.models import Incident
from fireline.incidents.service import linked_call_ids
from fireline.investigate import redteam
from fireline.pii import redact

DEFAULT_OUTPUT_TOKENS = 256


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_ids: list[str] = Field(default_factory=list, max_length=500)
    n: int | None = Field(None, ge=1, le=10_000)
    prompt_version: str | None = None
    system_prompt: str | None = Field(None, max_length=200_000)
    model: str | None = None
    upstream: str | None = None
    seed: int | None = None
    red_team: bool = False
    families: list[str] = Field(default_factory=list)
    variants: int = Field(16, ge=1, le=100)
    concurrency: int | None = Field(None, ge=1, le=64)
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_prompt(self) -> ReplayIn:
        if self.prompt_version and self.system_prompt is not None:
            raise ValueError("give a candidate prompt as prompt_version or as system_prompt, not both")
        bad = [f for f in self.families if f not in redteam.FAMILIES]
        if bad:
            raise ValueError(f"families: unknown {bad}; known: {', '.join(redteam.FAMILIES)}")
        return self

    @property
    def has_candidate(self) -> bool:
        return bool(self.prompt_version or self.system_prompt is not None or self.model)


@dataclass(slots=True)
class ReplayCase:
    id: str
    call: Call
    label: str  # redacted, for display
    messages: list[dict[str, Any]]  # without the system prompt
    system_prompt: str | None
    model: str | None
    tools: list[dict[str, Any]]
    retrieval: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int


@dataclass(slots=True)
class Plan:
    incident_id: str
    judges: list[str]
    cases: list[ReplayCase]
    arms: dict[str, dict[str, Any]]  # arm -> {"model", "system_prompt": "logged" | "v11" | "text"}
    n: int
    variants: dict[str, list[redteam.Variant]] = field(default_factory=dict)  # case id -> variants
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def trials(self) -> int:
        per_case = [max(1, len(self.variants.get(c.id, []))) for c in self.cases]
        return sum(per_case) * len(self.arms)

    @property
    def samples(self) -> int:
        return self.trials * self.n


def judges_of(inc: Incident, found: dict[str, list[CallFinding]], detectors: set[str]) -> list[str]:
    """The incident's detectors: what fired on its calls (effects only, policies included) and what
    should catch its type, among those configured here."""
    fired = {f.detector for fs in found.values() for f in effects(fs)}
    expected = {d for d in EXPECTED_DETECTORS.get(inc.type, []) if d in detectors}
    return sorted(fired | expected)


def _label(body: dict[str, Any]) -> str:
    texts = [m.get("content") for m in body.get("input") or [] if isinstance(m, dict) and m.get("role") == "user"]
    last = next((t for t in reversed(texts) if isinstance(t, str)), "")
    text, _ = redact(last)
    return (text[:77] + "…") if len(text) > 78 else text


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    names = (body.get("metadata") or {}).get("tools_offered") or sorted(
        {t.get("name") for t in body.get("tool_calls") or [] if isinstance(t, dict) and t.get("name")})
    return [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in names if isinstance(n, str)]


def _with_retrieval(system: str | None, retrieval: list[dict[str, Any]], messages: list[dict[str, Any]]) -> str | None:
    """Retrieval as logged: documents whose text the messages do not already carry are given to the
    model after the system prompt, as the app's context would have been."""
    joined = orjson.dumps(messages).decode()
    missing = [d for d in retrieval if isinstance(d.get("text"), str) and d["text"] and d["text"][:200] not in joined]
    if not missing:
        return system
    docs = "\n\n".join(f"[{d.get('id') or d.get('source') or i}] {d['text']}" for i, d in enumerate(missing))
    return ((system + "\n\n") if system else "") + "Context documents:\n" + docs


def plan(session: Session, inc: Incident, params: ReplayIn, config: Config, cfg: EvalsConfig, detectors: set[str],
         *, actor: str, role: str, read: bool) -> Plan:
    """The cases, arms and judges of a replay. With `read` the raw inputs are read (access-logged);
    without it (an estimate) only the redacted log is looked at."""
    linked = linked_call_ids(session, inc.id)
    if params.call_ids:
        unknown = [c for c in params.call_ids if c not in set(linked)]
        if unknown:
            raise Invalid(f"call_ids: not linked to {inc.id}: {', '.join(unknown[:5])}", field="call_ids")
        linked = list(params.call_ids)
    calls, found = load_calls(session, linked)
    if not calls:
        raise Conflict(f"incident {inc.id} has no linked calls left to replay (erased or expired?)", allowed=[])
    judges = judges_of(inc, found, detectors)
    if not judges:
        raise Conflict(f"no detector or policy judges incident {inc.id} (type {inc.type}): nothing fired on its "
                       f"calls and none is expected for the type", allowed=[])
    cases: list[ReplayCase] = []
    skipped: list[dict[str, str]] = []
    seen: set[bytes] = set()
    for c in calls:
        body = orjson.loads(c.content)
        if not body.get("input"):
            skipped.append({"call_id": c.id, "reason": "no input messages logged"})
            continue
        key = orjson.dumps(body.get("input"))
        if key in seen:  # the same input twice is one case (and one raw read)
            continue
        seen.add(key)
        content = body
        if read and c.has_raw:
            content = read_raw(session, c, actor=actor, role=role, reason=f"replay of {inc.id}") or {}
            if not content:
                skipped.append({"call_id": c.id, "reason": "raw content purged by retention"})
                continue
        messages = [m for m in content.get("input") or [] if isinstance(m, dict)]
        app_cfg = config.app(c.app)
        system = content.get("system_prompt")
        if system is None and c.prompt_version in app_cfg.prompts:
            system = app_cfg.prompts[str(c.prompt_version)]
        retrieval = [d for d in content.get("retrieval") or [] if isinstance(d, dict)]
        cases.append(ReplayCase(
            id=f"case-{len(cases) + 1}", call=c, label=_label(body), messages=messages, system_prompt=system,
            model=c.model_resolved or c.model, tools=_tools(body), retrieval=retrieval,
            input_tokens=c.input_tokens or max(1, len(orjson.dumps(messages)) // 4),
            output_tokens=c.output_tokens or DEFAULT_OUTPUT_TOKENS))
    if not cases:
        raise Conflict(f"none of the calls of {inc.id} can be replayed: "
                       + "; ".join(f"{s['call_id']}: {s['reason']}" for s in skipped[:5]), allowed=[])
    arms: dict[str, dict[str, Any]] = {"current": {"model": None, "system_prompt": "as logged"}}
    if params.has_candidate:
        prompt_desc = "as logged"
        if params.prompt_version:
            apps = {c.call.app for c in cases}
            missing = [a for a in apps if params.prompt_version not in config.app(a).prompts]
            if missing:
                raise Invalid(f"prompt_version: {params.prompt_version!r} is not declared for app "
                              f"{', '.join(sorted(missing))} (apps.<app>.prompts)", field="prompt_version")
            prompt_desc = f"prompt version {params.prompt_version}"
        elif params.system_prompt is not None:
            prompt_desc = "given system prompt"
        arms["candidate"] = {"model": params.model, "system_prompt": prompt_desc,
                             "prompt_version": params.prompt_version}
    n = params.n or cfg.replay.n
    p = Plan(inc.id, judges, cases, arms, n, skipped=skipped)
    if params.red_team:
        families = tuple(params.families) or redteam.FAMILIES
        for case in cases:
            last = next((i for i in range(len(case.messages) - 1, -1, -1) if case.messages[i].get("role") == "user"),
                        None)
            if last is None:
                continue
            text = case.messages[last].get("content")
            if isinstance(text, str) and text:
                p.variants[case.id] = redteam.expand(text, families, params.variants, params.seed or 0)
    if p.samples > cfg.replay.max_samples:
        raise Invalid(f"n: this replay would send {p.samples} requests, over evals.replay.max_samples "
                      f"({cfg.replay.max_samples}); lower -n, pick calls, or fewer variants", field="n")
    return p


def estimate(p: Plan, config: Config, upstream: str) -> dict[str, Any]:
    prices = price_table(config)
    per_variant = p.n * len(p.arms)
    tin = tout = 0
    cost: float | None = 0.0
    for c in p.cases:
        k = max(1, len(p.variants.get(c.id, [])))
        tin += c.input_tokens * per_variant * k
        tout += c.output_tokens * per_variant * k
        one = cost_usd(prices, c.model, c.input_tokens, c.output_tokens)
        if one is None and c.call.cost_usd is not None:
            one = c.call.cost_usd
        cost = None if one is None or cost is None else cost + one * per_variant * k
    return {"cases": len(p.cases), "arms": list(p.arms), "n": p.n, "variants": sum(len(v) for v in p.variants.values()),
            "requests": p.samples, "input_tokens": tin, "output_tokens": tout,
            "cost_usd": None if cost is None else round(cost, 4), "upstream": upstream, "judges": p.judges,
            "skipped": p.skipped}


def _judge(judging: Judging, names: set[str], ctx: Context) -> Any:
    def judge(answer: Answer) -> list[str]:
        return [f"{f.detector}: {f.kind} ({f.severity})" for f in judging.findings(answer, ctx, names)]
    return judge


def trials(p: Plan, params: ReplayIn, config: Config, judging: Judging, threshold: float) -> list[Trial]:
    names = set(p.judges)
    out: list[Trial] = []
    for c in p.cases:
        app_cfg = config.app(c.call.app)
        variants = p.variants.get(c.id) or [redteam.Variant("", "", "")]
        for arm, spec in p.arms.items():
            system = c.system_prompt
            if arm == "candidate":
                if params.prompt_version:
                    system = app_cfg.prompts[params.prompt_version]
                elif params.system_prompt is not None:
                    system = params.system_prompt
            model = (spec.get("model") or c.model) if arm == "candidate" else c.model
            for v in variants:
                messages = [dict(m) for m in c.messages if m.get("role") not in ("system", "developer")]
                if v.text:
                    last = max(i for i, m in enumerate(messages) if m.get("role") == "user")
                    messages[last] = {**messages[last], "content": v.text}
                sys_text = _with_retrieval(system, c.retrieval, messages)
                body: dict[str, Any] = {"model": model or "default",
                                        "messages": ([{"role": "system", "content": sys_text}] if sys_text else [])
                                        + messages}
                if c.tools:
                    body["tools"] = c.tools
                ctx = Context(app=c.call.app, tenant=c.call.tenant, input=messages, system_prompt=system,
                              retrieval=c.retrieval, tool_kinds=dict(app_cfg.tools))
                key = f"{c.id}/{arm}" + (f"/{v.family}/{v.name}" if v.family else "")
                out.append(Trial(key=key, case_id=c.id, body=body, n=p.n, threshold=threshold,
                                 judge=_judge(judging, names, ctx), arm=arm, family=v.family or None,
                                 label=c.label, headers={"X-Fireline-App": c.call.app,
                                                         "X-Fireline-Environment": "replay"}))
    return out


def _rate(samples: int, failures: int) -> dict[str, Any]:
    lo, hi = wilson(failures, samples)
    return {"samples": samples, "failures": failures, "rate": round(failures / samples, 6) if samples else None,
            "ci_low": round(lo, 6), "ci_high": round(hi, 6)}


def result(p: Plan, results: list[TrialResult], seconds: float, upstream: str) -> dict[str, Any]:
    """Per case (arms side by side), per arm, and per red-team family."""
    by_case: dict[str, dict[str, Any]] = {}
    arm_tot: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    fam_tot: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    case_arm: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, {}])
    for r in results:
        acc = case_arm[(r.case_id, r.arm)]
        acc[0] += r.samples
        acc[1] += r.failures
        acc[2] += r.errors
        for v, k in r.violations.items():
            acc[3][v] = acc[3].get(v, 0) + k
        arm_tot[r.arm][0] += r.samples
        arm_tot[r.arm][1] += r.failures
        arm_tot[r.arm][2] += r.errors
        if r.family:
            f = fam_tot[(r.family, r.arm)]
            f[0] += r.samples
            f[1] += r.failures
            f[2] += 1
    labels = {c.id: c for c in p.cases}
    for (case_id, arm), (samples, failures, errors, violations) in case_arm.items():
        c = labels[case_id]
        entry = by_case.setdefault(case_id, {"case_id": case_id, "source_call": c.call.id, "label": c.label,
                                             "arms": {}})
        entry["arms"][arm] = {**_rate(samples, failures), "errors": errors,
                              "violations": dict(sorted(violations.items(), key=lambda kv: -kv[1])[:5])}
    total = sum(r.samples + r.errors for r in results)
    return {"incident_id": p.incident_id, "upstream": upstream, "n": p.n, "judges": p.judges, "arms": p.arms,
            "cases": list(by_case.values()),
            "summary": {arm: {**_rate(s, f), "errors": e} for arm, (s, f, e) in arm_tot.items()},
            "families": [{"family": fam, "arm": arm, "variants": v, **_rate(s, f)}
                         for (fam, arm), (s, f, v) in sorted(fam_tot.items())],
            "skipped": p.skipped, "seconds": round(seconds, 3),
            "requests_per_s": round(total / seconds, 2) if seconds > 0 else None}
