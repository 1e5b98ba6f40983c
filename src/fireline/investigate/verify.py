"""Verify a fix: after a rollback (model or prompt pin), does new traffic run on the pinned
version, and is the monitor that fired back under its baseline for a whole window?

    routing   calls of the incident's apps that reached the model after the pin (kill-switched
              or failed calls did not) must all report the pinned model (model_resolved) and
              prompt version; a call on the old version after the pin fails the check.
    monitor   the monitor that opened the incident, evaluated with its own matching rules on the
              calls since the pin, for the group it fired on (keys a rollback changes, model and
              prompt version, are left out): over all calls since the pin, its value must be at or
              under the baseline it had when it fired (zero for an any-occurrence monitor), and the
              pin must have been in force for at least a full window.

The verdict is "passed", "failed" or "pending" (too few calls, or less than a window since the
pin); it goes on the timeline ("fix_verification") and into the post-mortem. This is not
`GET /incidents/{id}/verify`, which checks the timeline's hash chain.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.controls.models import ControlRow
from fireline.detect.facts import Fact
from fireline.detect.monitor import Monitor
from fireline.detect.monitor_defs import MonitorDef
from fireline.detect.series import latency_bin, quantile
from fireline.incidents.models import Incident
from fireline.incidents.timeline import append_timeline, entries, stamp

PIN_KINDS = ("model_pin", "prompt_pin")
NOT_REACHED = ("contained", "error")  # the kill switch answered, or the upstream failed
MAX_CALLS = 50_000
KIND = "fix_verification"


@dataclass(slots=True)
class Options:
    window: timedelta = timedelta(minutes=5)
    min_calls: int = 20
    settle_s: float = 0.0

    @property
    def window_text(self) -> str:
        s = self.window.total_seconds()
        return f"{s / 60:g} min" if s >= 60 else f"{s:g} s"


def pins(session: Session, incident_id: str) -> list[ControlRow]:
    """The incident's model and prompt pins still in force, latest first."""
    rows = session.scalars(select(ControlRow).where(ControlRow.incident_id == incident_id,
                                                    ControlRow.kind.in_(PIN_KINDS),
                                                    ControlRow.reverted_at.is_(None))
                           .order_by(ControlRow.created_at.desc()))
    return list(rows)


def fired_monitor(session: Session, incident_id: str) -> dict[str, Any] | None:
    """The monitor alert that opened (or joined) the incident: name, group, baseline, value."""
    for e in entries(session, incident_id, limit=500):
        data = e.data or {}
        if e.kind in ("opened", "alert") and data.get("source") == "monitor" and data.get("monitor"):
            details = data.get("details") or {}
            group = details.get("group") or str(data.get("dedup_key", "")).split(":", 2)[-1]
            return {"name": data["monitor"], "group": group, "baseline": details.get("baseline"),
                    "value_at_firing": details.get("value"), "condition": details.get("condition")}
    return None


def _group_filter(group: str) -> dict[str, str]:
    """The parts of a monitor group a rollback does not change (app, tenant, tool)."""
    out = {}
    for part in group.split(","):
        key, _, value = part.partition("=")
        if key in ("app", "tenant", "tool") and value and value != "-":
            out[key] = value
    return out


def _in_group(call: Call, where: dict[str, str]) -> bool:
    for key, value in where.items():
        if key == "tool":
            if value not in (call.tools or "").split():
                return False
        elif getattr(call, key) != value:
            return False
    return True


def _calls(session: Session, apps: list[str], since: datetime, until: datetime) -> list[Call]:
    stmt = select(Call).where(Call.started_at >= since, Call.started_at <= until)
    if apps:
        stmt = stmt.where(Call.app.in_(apps))
    return list(session.scalars(stmt.order_by(Call.started_at).limit(MAX_CALLS)))


def routing(calls: list[Call], pinned: list[ControlRow], since: datetime) -> dict[str, Any]:
    reached = [c for c in calls if c.status not in NOT_REACHED and c.started_at >= since]
    out: dict[str, Any] = {"check": "routing", "calls": len(reached),
                           "not_reached": sum(1 for c in calls if c.status in NOT_REACHED)}
    if not pinned:
        return {**out, "status": "not_applicable", "detail": "no model or prompt pin on this incident"}
    wrong: Counter[str] = Counter()
    expect = []
    for pin in pinned:
        app = (pin.scope or {}).get("app")
        if pin.kind == "model_pin":
            want = str(pin.params.get("model"))
            expect.append(f"model {want}" + (f" on {app}" if app else ""))
            for c in reached:
                if (app is None or c.app == app) and (c.model_resolved or c.model) != want:
                    wrong[f"model {c.model_resolved or c.model}"] += 1
        else:
            want = str(pin.params.get("version"))
            expect.append(f"prompt {want}" + (f" on {app}" if app else ""))
            for c in reached:
                if (app is None or c.app == app) and c.prompt_version != want:
                    wrong[f"prompt {c.prompt_version}"] += 1
    out.update(expected=expect, off_version=sum(wrong.values()), off_versions=dict(wrong.most_common(5)))
    if wrong:
        return {**out, "status": "failed",
                "detail": f"{sum(wrong.values())} of {len(reached)} calls since the pin ran on "
                          f"{', '.join(wrong)} instead of {', '.join(expect)}"}
    return {**out, "status": "ok", "detail": f"{len(reached)} calls since the pin, all on {', '.join(expect)}"}


def _facts(session: Session, calls: list[Call]) -> list[Fact]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = [c.id for c in calls]
    for i in range(0, len(ids), 1000):
        for f in session.scalars(select(CallFinding).where(CallFinding.call_id.in_(ids[i:i + 1000]))):
            found[f.call_id].append({"detector": f.detector, "kind": f.kind, "location": f.location,
                                     "severity": f.severity, "tool": None})
    return [Fact(id=c.id, minute=int(c.started_at.timestamp() // 60), app=c.app, tenant=c.tenant,
                 model=c.model_resolved or c.model, prompt_version=c.prompt_version,
                 tools=tuple((c.tools or "").split()), status=c.status or "ok", cost=c.cost_usd,
                 latency=c.latency_ms, findings=tuple(found.get(c.id, ()))) for c in calls]


def monitor_check(session: Session, d: MonitorDef | None, fired: dict[str, Any] | None, calls: list[Call],
                  window_start: datetime, covered: bool, opts: Options) -> dict[str, Any]:
    if fired is None:
        return {"check": "monitor", "status": "not_applicable", "detail": "no monitor opened this incident"}
    if d is None:
        return {"check": "monitor", "status": "not_applicable", "monitor": fired["name"],
                "detail": f"monitor {fired['name']} is not configured on this server any more"}
    if d.signal == "reports":
        return {"check": "monitor", "status": "not_applicable", "monitor": d.name,
                "detail": "a report monitor cannot be re-evaluated from the call log"}
    where = _group_filter(fired["group"])
    scoped = [c for c in calls if c.started_at >= window_start and _in_group(c, where)]
    mon = Monitor(d, 0)
    facts = _facts(session, scoped)
    hits = [mon.measure(f)[0] for f in facts]
    den = len(facts)
    if d.agg == "rate":
        value = sum(1 for h in hits if h) / den if den else 0.0
    elif d.agg == "count":
        value = float(sum(1 for h in hits if h))
    elif d.agg == "sum":
        value = float(sum(hits))
    else:
        bins: dict[int, int] = Counter(latency_bin(f.latency) for f in facts if f.latency is not None)
        value = quantile(bins, 0.99)
    any_occurrence = d.condition.op == "any"
    baseline = 0.0 if any_occurrence else float(fired.get("baseline") or d.baseline.default or d.baseline.floor)
    under = value <= baseline
    out = {"check": "monitor", "monitor": d.name, "group": fired["group"], "scope": where, "value": round(value, 6),
           "baseline": baseline, "calls": den, "window": opts.window_text, "since": stamp(window_start),
           "window_covered": covered, "value_at_firing": fired.get("value_at_firing")}
    what = "matching events" if any_occurrence else f"{d.agg} {value:.4g} vs baseline {baseline:.4g}"
    if den < opts.min_calls:
        return {**out, "status": "pending", "detail": f"{den} calls since the fix, {opts.min_calls} needed"}
    if not under:
        return {**out, "status": "failed", "detail": f"{d.name} still over its baseline: "
                + (f"{value:.0f} matching events" if any_occurrence else what)}
    if not covered:
        return {**out, "status": "pending", "detail": f"under its baseline so far ({what}); waiting for a full "
                                                       f"{opts.window_text} window since the fix"}
    return {**out, "status": "ok", "detail": f"{d.name} back under its baseline for {opts.window_text} "
                                             f"({'no ' + what if any_occurrence else what}, {den} calls)"}


def verify(session: Session, inc: Incident, defs: list[MonitorDef], opts: Options, now: datetime,
           since: datetime | None = None) -> dict[str, Any]:
    """The verdict on the fix of `inc` as of `now` (nothing recorded)."""
    pinned = pins(session, inc.id)
    pin_at = max((p.created_at for p in pinned), default=None)
    start = since or pin_at
    if start is None:
        start = now - opts.window
    settled = start + timedelta(seconds=opts.settle_s)
    apps = list((inc.scope or {}).get("apps", []))
    calls = _calls(session, apps, settled, now)
    route = routing(calls, pinned, settled)
    window_start = settled  # every call since the fix counts; the window is how long it must last
    covered = now - settled >= opts.window
    fired = fired_monitor(session, inc.id)
    d = next((m for m in defs if fired and m.name == fired["name"]), None)
    mon = monitor_check(session, d, fired, calls, window_start, covered, opts)
    if route["status"] == "ok" and route["calls"] < opts.min_calls:
        route = {**route, "status": "pending",
                 "detail": f"{route['calls']} calls reached the model since the pin, {opts.min_calls} needed"
                           + (f" ({route['not_reached']} were answered without it: is a kill switch still on?)"
                              if route["not_reached"] else "")}
    checks = [route, mon]
    states = {c["status"] for c in checks}
    if "failed" in states:
        verdict = "failed"
    elif "pending" in states or states == {"not_applicable"}:
        verdict = "pending"
    else:
        verdict = "passed"
    if states == {"not_applicable"}:
        checks.append({"check": "evidence", "status": "pending",
                       "detail": "nothing to verify yet: no pin on the incident and no monitor fired"})
    summary = "; ".join(c["detail"] for c in checks if c["status"] != "not_applicable") or checks[0]["detail"]
    return {"incident_id": inc.id, "verdict": verdict, "summary": summary, "checked_at": stamp(now),
            "since": stamp(settled), "pins": [{"id": p.id, "kind": p.kind, "params": p.params, "scope": p.scope,
                                               "applied_at": stamp(p.created_at)} for p in pinned],
            "window": opts.window_text, "min_calls": opts.min_calls, "checks": checks}


def record(session: Session, result: dict[str, Any], actor: str, at: datetime) -> None:
    data = {k: result[k] for k in ("verdict", "summary", "since", "window")}
    data["pins"] = [p["id"] for p in result["pins"]]
    data["checks"] = [{k: c.get(k) for k in ("check", "status", "detail", "value", "baseline", "calls")
                       if c.get(k) is not None} for c in result["checks"]]
    append_timeline(session, result["incident_id"], KIND, actor, data, at=at)


def last_recorded(session: Session, incident_id: str) -> dict[str, Any] | None:
    rows = entries(session, incident_id, kind=KIND)
    if not rows:
        return None
    e = rows[-1]
    return {"at": stamp(e.at), "actor": e.actor, **(e.data or {})}


def awaiting(session: Session, not_before: datetime) -> list[tuple[str, datetime]]:
    """Incidents with a pin in force (applied after `not_before`) and no verdict recorded since it."""
    rows = session.execute(select(ControlRow.incident_id, ControlRow.created_at)
                           .where(ControlRow.kind.in_(PIN_KINDS), ControlRow.reverted_at.is_(None),
                                  ControlRow.incident_id.is_not(None), ControlRow.created_at >= not_before))
    latest: dict[str, datetime] = {}
    for incident_id, at in rows:
        if incident_id and (incident_id not in latest or at > latest[incident_id]):
            latest[incident_id] = at
    out = []
    for incident_id, at in latest.items():
        done = [e for e in entries(session, incident_id, kind=KIND) if e.at >= at]
        if not done:
            out.append((incident_id, at))
    return out
