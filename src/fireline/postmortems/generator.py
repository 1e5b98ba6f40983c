"""The AI post-mortem, generated from the record: structured sections plus Markdown and HTML.

Sections: summary, timeline (first occurrence in production, monitor fired, detected,
acknowledged, contained, resolved), impact, root cause, reproduction (logging gaps),
guardrail assessment, scope and obligations, regression eval cases, the blameless finding,
action items, and the due date (flagged when overdue).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fireline.comms import obligations, templates
from fireline.comms.config import CommsConfig
from fireline.comms.context import TYPE_LABELS
from fireline.comms.facts import gather
from fireline.config import Config
from fireline.evals import service as evals
from fireline.incidents.schemas import public_scope
from fireline.incidents.service import linked_call_ids
from fireline.incidents.taxonomy import TYPES
from fireline.incidents.timeline import entries, stamp
from fireline.investigate import labels
from fireline.investigate.service import changes_before_onset
from fireline.postmortems import checks, service
from fireline.postmortems.models import RootCause

# The kinds as the timeline writes them (the controls part writes "control.applied", with a dot).
KEY_KINDS = ("opened", "declared", "state", "severity", "commander_handoff", "control.applied", "control.reverted",
             "control.expired", "snapshot", "update", "obligation_opened", "obligation_met", "root_cause",
             "sla_breached", "related", "merged", "repeat", "replay_finished", "eval_lock_created",
             "eval_lock_result", "eval_lock_waived", "fix_verification")


def _t(value: datetime | None) -> str | None:
    return stamp(value) if value else None


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _between(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))
            ).total_seconds()


def _monitor_fired(session: Session, incident_id: str) -> str | None:
    for e in entries(session, incident_id, limit=500):
        if e.kind in ("opened", "alert") and (e.data or {}).get("source") == "monitor":
            return str(e.data.get("at") or stamp(e.at))
    return None


def _timeline(session: Session, f: Any) -> dict[str, Any]:
    inc = f.incident
    marks = [("first_occurrence", "First occurrence in production (earliest matching call)",
              f.blast.get("first_occurrence")),
             ("onset", "Onset (where the rate changed)", _t(inc.onset_at)),
             ("monitor_fired", "Monitor fired", _monitor_fired(session, inc.id)),
             ("detected", "Detected (incident opened)", _t(inc.detected_at)),
             ("acknowledged", "Acknowledged", _t(inc.acknowledged_at)),
             ("contained", "Contained", _t(inc.contained_at)),
             ("resolved", "Resolved", _t(inc.resolved_at))]
    detected = _t(inc.detected_at)
    durations = {"detection_lead_time": _duration(_between(f.blast.get("first_occurrence"), detected)),
                 "time_to_acknowledge": _duration(_between(detected, _t(inc.acknowledged_at))),
                 "time_to_contain": _duration(_between(detected, _t(inc.contained_at))),
                 "time_to_resolve": _duration(_between(detected, _t(inc.resolved_at)))}
    log = [{"at": stamp(e.at), "actor": e.actor, "kind": e.kind, "what": _describe(e.kind, e.data or {})}
           for e in entries(session, inc.id, limit=5000) if e.kind in KEY_KINDS]
    return {"milestones": [{"key": k, "label": label, "at": at} for k, label, at in marks],
            "durations": durations, "log": log[:200]}


def _describe(kind: str, data: dict[str, Any]) -> str:
    if kind == "state":
        return f"{data.get('from')} → {data.get('to')}" + (f" ({data['reason']})" if data.get("reason") else "")
    if kind == "severity":
        return f"severity {data.get('from')} → {data.get('to')}: {data.get('reason')}"
    if kind == "update":
        return ("public update: " if data.get("public") else "internal update: ") + str(data.get("message", ""))[:300]
    if kind in ("opened", "declared"):
        return f"{data.get('title')} ({data.get('type')}, {data.get('severity')})"
    if kind.startswith("obligation"):
        return f"{data.get('title') or data.get('kind')} due {data.get('due_at')}"
    if kind == "root_cause":
        return f"root cause: {data.get('category')}"
    if kind.startswith("control."):
        scope = " ".join(f"{k}={v}" for k, v in (data.get("scope") or {}).items()) or "global"
        verb = kind.split(".", 1)[1]
        return f"{data.get('kind')} {data.get('control_id')} {verb} on {scope}" + (
            f": {data['reason']}" if data.get("reason") and verb == "applied" else "")
    if kind == "eval_lock_result":
        return f"eval lock {data.get('suite_id')} {data.get('status')} against {data.get('target')}"
    if kind == "fix_verification":
        return f"fix verification {data.get('verdict')}: {data.get('summary', '')}"
    if kind == "replay_finished":
        arms = data.get("summary") or {}
        rates = ", ".join(f"{arm} {a.get('rate', 0) or 0:.0%}" for arm, a in arms.items())
        return f"replay {data.get('replay_id')} {data.get('state')}" + (f": failure rate {rates}" if rates else "")
    return ", ".join(f"{k}={v}" for k, v in list(data.items())[:4] if not isinstance(v, dict | list))


def _finding(inc: Any, impact: dict[str, Any], rc: dict[str, Any], guard: dict[str, Any],
             repro: dict[str, Any]) -> str:
    if rc.get("finding"):
        return str(rc["finding"])
    label = TYPE_LABELS.get(inc.type, inc.type.replace("_", " "))
    parts = [f"{label.capitalize()} reached {impact['users']} users in {impact['calls']} calls"
             + (f", starting {impact['first_occurrence'][:16].replace('T', ' ')} UTC" if impact["first_occurrence"]
                else "") + "."]
    if rc.get("category"):
        factors = "; ".join(rc["factors"]) if rc["factors"] else "no contributing factors recorded"
        parts.append(f"The root cause lies in the {rc['category']} ({factors}).")
    else:
        parts.append("The root cause is not recorded yet [MISSING: root cause].")
    silent = [r["detector"] for r in guard["expected"] if not r["fired_on_calls"]]
    if guard["expected"] and silent and len(silent) == len(guard["expected"]):
        parts.append(f"No guardrail caught it on the calls themselves ({', '.join(silent)} stayed silent or were off).")
    elif guard["expected"]:
        fired = [r["detector"] for r in guard["expected"] if r["fired_on_calls"]]
        parts.append(f"{', '.join(fired)} flagged the calls, yet the output still reached users.")
    if repro["checked"]:
        parts.append(f"{repro['replayable']} of {repro['checked']} linked calls can be replayed from the log"
                     + (f"; logging gaps: {', '.join(repro['gaps'])}." if repro["gaps"] else "."))
    parts.append("The safeguards and the process allowed this; the finding is about the system, not the people.")
    return " ".join(parts)


def _lock_cases(session: Session, incident_id: str) -> list[dict[str, Any]]:
    row = session.get(evals.EvalSuite, evals.lock_id(incident_id))
    return [checks.display_case(c) for c in (row.body.get("cases") or [])] if row else []


def _regression_test(session: Session, incident_id: str, rc: dict[str, Any]) -> dict[str, Any]:
    """The lock: which suite, its link, its last result, and whether it gates the close."""
    st = evals.lock_status(session, incident_id)
    suite_id = rc.get("regression_test") or st["suite_id"]
    last = st["last_run"]
    if suite_id and suite_id != st["suite_id"]:
        row = evals.last_run(session, suite_id)
        last = evals.run_json(row) if row else None
    return {"suite_id": suite_id, "link": f"/api/v1/evals/{suite_id}" if suite_id else None, "cases": st["cases"],
            "last_run": last, "passing": bool(last and last["passed"]), "waived": st["waived"],
            "run_command": (f"fireline eval run evals/{incident_id}.yaml --target URL --app APP --junit report.xml"
                            if suite_id else f"fireline eval export {incident_id} > evals/{incident_id}.yaml")}


def _verification(session: Session, incident_id: str) -> dict[str, Any] | None:
    found = [e for e in entries(session, incident_id, limit=5000, kind="fix_verification")]
    if not found:
        return None
    e = found[-1]
    return {"at": stamp(e.at), "actor": e.actor, **(e.data or {})}


def generate(session: Session, incident_id: str, config: Config, cfg: CommsConfig, now: datetime) -> dict[str, Any]:
    f = gather(session, incident_id)
    inc = f.incident
    call_ids = linked_call_ids(session, incident_id)
    calls, raw, found = checks.load_calls(session, call_ids)
    t = TYPES.get(inc.type)
    rc = service.root_cause_json(session.get(RootCause, incident_id))
    impact = {k: f.blast.get(k) for k in ("users", "sessions", "tenants", "calls", "first_occurrence")}
    impact["pii"] = f.pii
    impact["linked_calls"] = len(call_ids)
    guard = checks.guardrails(inc.type, config, found)
    repro = checks.reproduction(call_ids, calls, raw)
    duration = _between(_t(inc.detected_at), _t(inc.resolved_at))
    summary = {"id": inc.id, "title": inc.title, "summary": inc.summary, "type": inc.type,
               "severity": inc.severity, "state": inc.state, "apps": list((inc.scope or {}).get("apps", [])),
               "commander": inc.commander, "detected_at": _t(inc.detected_at), "resolved_at": _t(inc.resolved_at),
               "duration": _duration(duration), "owasp": list(t.owasp) if t else [],
               "atlas": list(t.atlas) if t else [], "nist": list(t.nist) if t else []}
    obs = obligations.list_for(session, cfg, incident_id, now)
    scope = public_scope(inc.scope)
    pm = {
        "incident_id": inc.id, "generated_at": stamp(now), "summary": summary, "timeline": _timeline(session, f),
        "impact": impact, "root_cause": rc, "reproduction": repro, "guardrails": guard,
        "policies": checks.policies(config, found),
        "changes_before_onset": changes_before_onset(session, inc),
        "labels": labels.counts(session, inc.id),
        "scope": {**scope, "controls": f.controls,
                  "obligations": [{k: o[k] for k in ("id", "kind", "title", "deadline", "status", "met_at", "missing")}
                                  for o in obs]},
        "regression_cases": _lock_cases(session, inc.id) or checks.regression_cases(session, inc.id, inc.type, config,
                                                                                   calls, found),
        "regression_test": _regression_test(session, inc.id, rc),
        "verification": _verification(session, inc.id),
        "finding": _finding(inc, impact, rc, guard, repro),
        "actions": [service.action_json(a, now.date()) for a in service.actions(session, incident_id)],
        "due": service.status(session, inc, cfg.comms.postmortem_due_business_days, now.date()),
    }
    return pm


def render(pm: dict[str, Any], fmt: str, templates_dir: str | None) -> str:
    name = {"md": "postmortem.md.j2", "html": "postmortem.html.j2"}[fmt]
    text, _ = templates.render(templates_dir, name, {"pm": pm})
    return text
