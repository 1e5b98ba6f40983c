"""Detectors on every ingested call: an ingest processor that turns findings into rows.

`Detection.process` runs as the "calls.prepared" handler (fireline.wiring), so the native
API, the gateway and OTLP ingest (all through `calls.service.ingest`) run the same detectors
before the call is stored. Besides the detectors of `detect.detectors`, it records the
guardrail decisions the caller sent as findings (`guardrail` / `output_block`,
`input_block`), so the guardrail-block monitor can be rebuilt from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.calls.service import PreparedCall
from fireline.config import Config
from fireline.counters import WindowCounter
from fireline.db import Database
from fireline.detect.canaries import CanaryCache
from fireline.detect.detectors import ArgumentBaseline, CallView, Detector, Finding, build_detectors, run_all
from fireline.detect.facts import Fact
from fireline.detect.features import COLUMNS as FEATURE_COLUMNS
from fireline.detect.features import categorical, features_of, lengths
from fireline.detect.policy_match import PolicyEngine
from fireline.detect.rule_alerts import RuleMeta
from fireline.detect.screen import SCREEN, STATEFUL, Screen, StatelessPass, policy_engine, view_of
from fireline.detect.sessions import SessionSignals
from fireline.events import where
from fireline.metrics import FINDINGS, RECORDS_SKIPPED

log = logging.getLogger("fireline.detect")

NOT_PRODUCTION = ("eval", "replay")  # X-Fireline-Environment of the eval runner and replay


def production(environment: Any) -> ColumnElement[bool]:
    """Calls that are production traffic (not eval or replay runs), as SQL."""
    return or_(environment.is_(None), environment.not_in(NOT_PRODUCTION))


BLOCK_WORDS = frozenset({"block", "blocked", "deny", "denied", "reject", "rejected", "refuse", "refused"})
INPUT_STAGES = frozenset({"input", "request", "pre", "prompt"})


def guardrail_findings(guardrails: Iterable[Any]) -> list[dict[str, Any]]:
    """Block decisions among the call's guardrail records ({name, stage, action}, loosely spelled)."""
    out: list[dict[str, Any]] = []
    for i, g in enumerate(guardrails or ()):
        if not isinstance(g, dict) or g.get("control"):
            continue  # Fireline's own containment controls are not the app's guardrails
        decision = next((g[k] for k in ("action", "decision", "result", "outcome") if g.get(k) is not None), None)
        blocked = g.get("blocked") is True or str(decision).lower() in BLOCK_WORDS
        if not blocked:
            continue
        stage = str(next((g[k] for k in ("stage", "on", "location", "direction") if g.get(k)), "output")).lower()
        where = "input" if stage in INPUT_STAGES else "output"
        name = str(g.get("name") or g.get("guardrail") or "guardrail")[:100]
        out.append({"detector": "guardrail", "kind": f"{where}_block", "entity": None, "severity": "P3",
                    "confidence": 1.0, "location": where, "item": i, "start": None, "end": None,
                    "evidence": f"{name} blocked the {where}"})
    return out


BUDGET_ROWS = {"key": "api_key_id", "user": "user_pseudonym", "tenant": "tenant", "session": "session_id"}


def budget_findings(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The gateway's budget decision on a call (metadata.budget) as a finding: `blocked` (the budget
    stopped it) or `exceeded` (its spend took the budget over); entity `<control id>|<per what>`."""
    b = metadata.get("budget") if isinstance(metadata, dict) else None
    if not isinstance(b, dict) or not isinstance(b.get("control"), str):
        return []
    per = str(b.get("key") or "key")
    what = f"${b.get('limit')}" if b.get("unit") == "usd" else f"{b.get('limit')} tokens"
    return [{"detector": "budget", "kind": "blocked" if b.get("blocked") else "exceeded",
             "entity": f"{b['control'][:40]}|{per[:16]}", "severity": "P1", "confidence": 1.0, "location": "session",
             "item": None, "start": None, "end": None,
             "evidence": f"budget {b['control']}: {what} per {b.get('per')} per {per}"
                         + ("" if b.get("blocked") else f", spent {b.get('spent')}")}]


def clean(found: Iterable[Finding]) -> bool:
    """Whether a call may teach the baselines: no finding above P3 (a user's own e-mail address in
    the input is P3), no broken policy, no session limit. Anomalies must not become the norm."""
    return not any(f.severity != "P3" or f.detector.startswith("policy:") or f.detector == "session" for f in found)


# FINDINGS' counters by (detector, kind): `labels()` checks the values and takes the metric's lock on
# every call; the counter it hands back is the same object each time (never removed), so it is kept.
_COUNTERS: dict[tuple[str, str], Any] = {}


def _count_finding(detector: str, kind: str) -> None:
    counter = _COUNTERS.get((detector, kind))
    if counter is None:
        if len(_COUNTERS) >= 4096:
            _COUNTERS.clear()
        counter = _COUNTERS[(detector, kind)] = FINDINGS.labels(detector, kind)
    counter.inc()


def finding_row(f: Finding) -> dict[str, Any]:
    return {"detector": f.detector, "kind": f.kind, "entity": f.entity, "severity": f.severity,
            "confidence": f.confidence, "location": f.location, "item": f.item, "start": f.start,
            "end": f.end, "evidence": f.evidence}


class Detection:
    """The configured detectors of one server, as an ingest processor."""

    def __init__(self, config: Config, canaries: CanaryCache, counter: WindowCounter | None = None) -> None:
        self.config, self.canaries = config, canaries
        self.baseline = ArgumentBaseline()
        self.detectors = build_detectors(config.detectors, canaries=canaries.tokens, baseline=self.baseline)
        self.learners: list[Any] = [d for d in self.detectors if callable(getattr(d, "learn", None))]
        self.policies = policy_engine(config, self.detectors)
        self.stateless = StatelessPass(self.detectors, self.policies)
        self.sessions = SessionSignals(config.section("sessions"), counter)

    def for_judging(self) -> list[Detector]:
        """The same detectors and policies for answers that are not production calls (replay, eval
        runs), with an argument baseline of their own, so those answers never teach the live one."""
        return judging_detectors(self.config, self.canaries.tokens)

    def process(self, batch: list[PreparedCall]) -> None:
        """Findings, labels and profile for each call of the batch: the stateless pass (detect.screen),
        unless the gateway's helper process ran it already, then what has state here."""
        views = self.stateless.run([p for p in batch if SCREEN not in p.extras])
        checked: list[tuple[PreparedCall, CallView]] = []
        for p in batch:
            view = views.get(id(p))
            try:
                checked.append((p, view if view is not None else view_of(p)))
            except Exception as exc:  # one odd record must not cost the others their detection
                p.extras.pop(SCREEN, None)
                RECORDS_SKIPPED.labels("detect").inc()
                log.error("detectors failed on call %s: %s at %s", p.id, type(exc).__name__, where(exc))
        # Session limits count the whole batch at once (one round trip when the counter is shared).
        try:
            over = self.sessions.observe_many([(p.row, view) for p, view in checked])
        except Exception as exc:
            RECORDS_SKIPPED.labels("sessions").inc(len(checked))
            log.error("session signals failed on a batch of %d: %s at %s", len(checked), type(exc).__name__,
                      where(exc))
            over = [[] for _ in checked]
        for (p, view), session_found in zip(checked, over, strict=True):
            screen: Screen = p.extras.pop(SCREEN)
            if screen.failed is not None:
                RECORDS_SKIPPED.labels("detect").inc()
                log.error("detectors failed on call %s: %s", p.id, screen.failed)
                continue
            # in detector order, the stateful ones (the learned baseline) run here
            found = [f for d in self.detectors
                     for f in (run_all((d,), view) if d.name in STATEFUL else screen.found.get(d.name, ()))]
            if screen.policy is not None:
                found += screen.policy
                if screen.policy_failed is not None:
                    RECORDS_SKIPPED.labels("policies").inc()
                    log.error("policies failed on call %s: %s", p.id, screen.policy_failed)
            elif self.policies:
                try:
                    found += [v.finding() for v in self.policies.check(view, found)]
                except Exception as exc:  # a rule must never cost the call its place in the log
                    RECORDS_SKIPPED.labels("policies").inc()
                    log.error("policies failed on call %s: %s at %s", p.id, type(exc).__name__, where(exc))
            found += session_found
            try:
                # learned call by call: the next call of the batch is judged against this one too
                if self.learners and clean(found):
                    for learner in self.learners:
                        learner.learn(view)
            except Exception as exc:
                RECORDS_SKIPPED.labels("sessions").inc()
                log.error("session signals failed on call %s: %s at %s", p.id, type(exc).__name__, where(exc))
            rows = [finding_row(f) for f in found]
            rows += guardrail_findings(p.raw.get("guardrails") or ())
            rows += budget_findings(p.raw.get("metadata") or {})
            for r in rows:
                _count_finding(r["detector"], r["kind"])
            p.findings.extend(rows)


class PolicyJudge:
    """The config's policies as one detector (findings "policy:<name>"), for judging answers: the
    policies see the other detectors' findings on the same answer, as on the ingest path."""

    name = "policy"

    def __init__(self, engine: PolicyEngine, detectors: list[Detector]) -> None:
        self.engine, self.detectors = engine, detectors

    def detect(self, call: CallView) -> list[Finding]:
        return [v.finding() for v in self.engine.check(call, run_all(self.detectors, call))]


def judging_detectors(config: Config, canaries: Any) -> list[Detector]:
    """Detectors and policies for judging answers that are not production calls (fresh baseline)."""
    detectors = build_detectors(config.detectors, canaries=canaries, baseline=ArgumentBaseline())
    engine = policy_engine(config, detectors)
    return [*detectors, PolicyJudge(engine, detectors)] if engine.rules else detectors


def session_meta(signals: SessionSignals) -> RuleMeta:
    cfg = signals.config
    return RuleMeta(name="session", type=cfg.type, severity=cfg.severity, group_by=("app", "session_id"),
                    title="Session over its limits on {group} ({kinds})",
                    details={"contain_kinds": list(cfg.contain_kinds), "scope_by": "session"})


def budget_meta(finding: dict[str, Any]) -> RuleMeta:
    control, _, per = str(finding.get("entity") or "|key").partition("|")
    field = BUDGET_ROWS.get(per, "api_key_id")
    return RuleMeta(name="budget", type="cost_runaway", severity="P1", group_by=("app", field),
                    title="Spend over budget on {group} ({kinds})",
                    details={"scope_by": per, "budget": control})


def policy_meta(engine: PolicyEngine, detector: str) -> RuleMeta | None:
    """The alert shape of a policy finding's rule."""
    rule = engine.by_name.get(detector.removeprefix("policy:"))
    if rule is None:
        return None
    return RuleMeta(name=rule.detector, type=rule.type, severity=rule.severity,
                    title=rule.title or "Policy {rule} violated on {group} ({kinds})",
                    details={"policy": rule.name, "target": rule.target, "action": rule.action})


_EPOCH = datetime(1970, 1, 1)  # naive, UTC


def minute_of_time(at: datetime) -> int:
    """The minute number of a call's time (a naive time is UTC, as the database stores it). For a naive
    time, the same seconds `at.replace(tzinfo=UTC).timestamp()` gives (its difference from the epoch),
    without the copy."""
    if at.tzinfo is None:
        return int((at - _EPOCH).total_seconds() // 60)
    return int(at.timestamp() // 60)


def facts_from_db(session: Session, call_ids: list[str]) -> list[Fact]:
    """The monitors' view of stored calls (a redelivered "calls.ingested"), read back by id."""
    facts: list[Fact] = []
    for i in range(0, len(call_ids), 500):
        chunk = call_ids[i:i + 500]
        found: dict[str, list[dict[str, Any]]] = {}
        for f in session.execute(select(CallFinding.call_id, CallFinding.detector, CallFinding.kind,
                                        CallFinding.location, CallFinding.severity, CallFinding.item)
                                 .where(CallFinding.call_id.in_(chunk))):
            found.setdefault(f.call_id, []).append({"detector": f.detector, "kind": f.kind, "location": f.location,
                                                    "severity": f.severity, "item": f.item})
        rows = session.execute(select(Call.id, Call.started_at, Call.app, Call.tenant, Call.model, Call.model_resolved,
                                      Call.prompt_version, Call.tools, Call.status, Call.cost_usd, Call.latency_ms,
                                      Call.session_id, Call.api_key_id, Call.output_tokens, Call.input_tokens,
                                      *(getattr(Call, c) for c in FEATURE_COLUMNS.values()))
                               .where(Call.id.in_(chunk),
                                      production(Call.environment)))
        for r in rows:
            try:
                names = (r.tools or "").split()
                findings = tuple({"detector": f["detector"], "kind": f["kind"], "location": f["location"],
                                  "severity": f["severity"],
                                  "tool": names[f["item"]] if f["location"] == "tool" and f["item"] is not None
                                  and 0 <= f["item"] < len(names) else None}
                                 for f in found.get(r.id, []))
                facts.append(Fact(id=r.id, minute=minute_of_time(r.started_at), app=r.app, tenant=r.tenant,
                                  model=r.model_resolved or r.model, prompt_version=r.prompt_version,
                                  tools=tuple(dict.fromkeys(names)), status=r.status or "ok", cost=r.cost_usd,
                                  latency=r.latency_ms, findings=findings, session=r.session_id, api_key=r.api_key_id,
                                  alias=r.model,
                                  features={**lengths(r.output_tokens, r.input_tokens), **categorical(
                                      {f: getattr(r, c) for f, c in FEATURE_COLUMNS.items()})}))
            except Exception as exc:
                RECORDS_SKIPPED.labels("monitors").inc()
                log.error("monitors skip call %s: %s at %s", r.id, type(exc).__name__, where(exc))
    return facts


@dataclass(slots=True)
class StoredCall:
    """What rule alerts read of a stored call (a redelivered "calls.ingested"): row, tool calls, findings."""

    row: dict[str, Any]
    raw: dict[str, Any]
    findings: list[dict[str, Any]]


RULE_DETECTORS = ("session", "budget")


def rule_calls_from_db(session: Session, call_ids: list[str]) -> list[StoredCall]:
    """The stored calls that carry a rule finding (policy, session, budget), read back by id."""
    out: list[StoredCall] = []
    for i in range(0, len(call_ids), 500):
        chunk = call_ids[i:i + 500]
        found: dict[str, list[dict[str, Any]]] = {}
        for f in session.execute(select(CallFinding.call_id, CallFinding.detector, CallFinding.kind,
                                        CallFinding.location, CallFinding.item, CallFinding.entity)
                                 .where(CallFinding.call_id.in_(chunk), CallFinding.detector.in_(RULE_DETECTORS)
                                        | CallFinding.detector.like("policy:%"))):
            found.setdefault(f.call_id, []).append({"detector": f.detector, "kind": f.kind, "location": f.location,
                                                    "item": f.item, "entity": f.entity})
        if not found:
            continue
        for c in session.scalars(select(Call).where(Call.id.in_(list(found)))):
            row = {"id": c.id, "app": c.app, "tenant": c.tenant, "model": c.model, "model_resolved": c.model_resolved,
                   "prompt_version": c.prompt_version, "session_id": c.session_id, "api_key_id": c.api_key_id,
                   "user_pseudonym": c.user_pseudonym}
            names = [{"name": n} for n in (c.tools or "").split()]
            out.append(StoredCall(row, {"tool_calls": names}, found[c.id]))
    return out


def fact_of(p: PreparedCall, cohorts: tuple[str, ...] = ("cohort",)) -> Fact:
    """What the monitors read of a stored call."""
    row = p.row
    tool_calls = p.raw.get("tool_calls") or []
    findings = []
    for f in p.findings:
        tool = None
        if f.get("location") == "tool" and f.get("item") is not None and f["item"] < len(tool_calls):
            tool = tool_calls[f["item"]].get("name")
        findings.append({"detector": f["detector"], "kind": f["kind"], "location": f["location"],
                         "severity": f["severity"], "tool": tool})
    if not tool_calls:
        tools: tuple[str, ...] = ()
    elif len(tool_calls) == 1:  # the common case: no dedup to do
        name = tool_calls[0].get("name")
        tools = (str(name),) if name else ()
    else:
        tools = tuple(dict.fromkeys([str(t.get("name")) for t in tool_calls if t.get("name")]))
    meta = p.raw.get("metadata") or {}
    attrs = {k: str(meta[k])[:200] for k in cohorts if meta.get(k) is not None} if meta else {}
    route = meta.get("route")
    return Fact(id=p.id, minute=minute_of_time(row["started_at"]), app=row["app"], tenant=row.get("tenant"),
                model=row.get("model_resolved") or row.get("model"), prompt_version=row.get("prompt_version"),
                tools=tools, status=row.get("status") or "ok", cost=row.get("cost_usd"),
                latency=row.get("latency_ms"), findings=tuple(findings), session=row.get("session_id"),
                api_key=row.get("api_key_id"), alias=row.get("model"),
                route=str(route)[:200] if route is not None else None, attrs=attrs, features=features_of(p))


def warm_tool_baseline(db: Database, baseline: ArgumentBaseline, limit: int = 5000) -> int:
    """Relearn numeric tool-argument baselines from the most recent unflagged calls, so a restart does
    not blind the anomaly check. Only numbers: stored strings are redacted and would not match the raw
    values the detector sees live. Flagged calls (a finding above P3) never teach the baseline."""
    flagged = select(CallFinding.call_id).where(CallFinding.call_id == Call.id,
                                                CallFinding.severity.in_(("P0", "P1", "P2")))
    with db.session() as session:
        rows = session.execute(select(Call.app, Call.content).where(Call.tools.is_not(None), ~flagged.exists())
                               .order_by(Call.started_at.desc()).limit(limit)).all()
    seen = 0
    for app, content in reversed(rows):
        for tool in orjson.loads(content).get("tool_calls") or []:
            args = tool.get("arguments")
            if not isinstance(args, dict):
                continue
            numeric = {k: v for k, v in args.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            if numeric:
                baseline.observe(app, str(tool.get("name") or ""), numeric)
                seen += 1
    return seen
