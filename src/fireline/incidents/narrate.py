"""A timeline entry in one plain sentence: who did what (the console and the CLI show it; the entry's
data stays available as details). Kinds this module does not know still read as a sentence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTORS = {"auto-contain": "Auto-containment", "expiry": "Expiry", "fireline": "Fireline"}


def who(actor: str | None) -> str:
    if not actor:
        return "Someone"
    if actor in ACTORS:
        return ACTORS[actor]
    if actor.startswith("alert:"):
        return f"The {actor.split(':', 1)[1]} alert"
    if actor.startswith("fireline:"):
        return f"Fireline ({actor.split(':', 1)[1]})"
    return actor


def _scope(scope: Any) -> str:
    if not isinstance(scope, dict) or not scope:
        return "everywhere"
    return ", ".join(f"{k} {v}" for k, v in scope.items())


def _pct(x: Any) -> str:
    return f"{x:.0%}" if isinstance(x, (int, float)) else "?"


def _because(d: dict[str, Any]) -> str:
    reason = d.get("reason")
    return f" ({reason})" if reason else ""


def _opened(d: dict[str, Any]) -> str:
    det = d.get("details") or {}
    calls = d.get("calls") or len(d.get("call_ids") or [])
    what = d.get("title") or d.get("dedup_key") or "an alert"
    cond = f", {det['group']}" if det.get("group") else ""
    return f"opened the incident: {what}{cond}; {calls} call(s) linked"


def _state(d: dict[str, Any]) -> str:
    return f"moved the incident from {d.get('from', '?')} to {d.get('to', '?')}{_because(d)}"


def _control(d: dict[str, Any]) -> str:
    params = d.get("params") or {}
    extra = f" with {', '.join(f'{k}={v}' for k, v in params.items() if k != 'output')}" if params else ""
    return f"applied {d.get('kind', 'a control')} on {_scope(d.get('scope'))}{extra} ({d.get('control_id', '')})"


def _replay_done(d: dict[str, Any]) -> str:
    s = d.get("summary") or {}
    arms = "; ".join(f"{arm} {_pct(v.get('rate'))} of {v.get('samples', 0)} answers failed" for arm, v in s.items())
    return f"finished replay {d.get('replay_id', '')}: {arms or d.get('state', '')}"


def _eval_result(d: dict[str, Any]) -> str:
    status = d.get("status") or ("passed" if d.get("passed") else "failed" if "passed" in d else "recorded")
    return f"recorded an eval-lock run of {d.get('suite_id') or d.get('suite') or 'the lock'}: {status}"


SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "opened": _opened,
    "declared": lambda d: f"declared the incident: {d.get('title', '')} ({d.get('type', '')}, {d.get('severity', '')})",
    "alert": lambda d: f"attached another alert: {d.get('title') or d.get('dedup_key') or ''}",
    "state": _state,
    "snapshot": lambda d: f"took an evidence snapshot of {d.get('calls', 0)} call(s), {d.get('newly_held', 0)} "
                          f"newly on legal hold{_because(d)}",
    "evidence_exported": lambda d: f"exported evidence snapshot {str(d.get('snapshot_id', ''))[:12]}{_because(d)}",
    "control.applied": _control,
    "control.reverted": lambda d: f"reverted {d.get('kind', 'a control')} on {_scope(d.get('scope'))} "
                                  f"({d.get('control_id', '')}){_because(d)}",
    "control.expired": lambda d: f"let {d.get('kind', 'a control')} expire ({d.get('control_id', '')})",
    "controls.moved": lambda d: (f"moved {len(d.get('controls') or [])} control(s) here from merged incident "
                                 f"{d['from']}" if d.get("from") else
                                 f"moved {len(d.get('controls') or [])} control(s) to {d.get('into', '?')}"),
    "merged": lambda d: (f"merged {d['from']} into this incident ({d.get('calls', 0)} call(s)){_because(d)}"
                         if d.get("from") else f"merged this incident into {d.get('into', '?')}{_because(d)}"),
    "related": lambda d: f"marked {d.get('incident_id', '?')} as related{_because(d)}",
    "auto_containment_failed": lambda d: f"could not contain automatically: {d.get('error') or d.get('reason', '')}",
    "obligation_opened": lambda d: f"opened the obligation \"{d.get('title', d.get('kind', ''))}\", due "
                                   f"{d.get('due_at', '?')}",
    "obligation_met": lambda d: f"marked obligation {d.get('obligation_id', '')} met{_because(d)}",
    "obligation_reminder": lambda d: f"reminded that \"{d.get('title', d.get('kind', 'an obligation'))}\" is due",
    "high_risk": lambda d: f"marked the incident high-risk to the individuals{_because(d)}",
    "high_risk_cleared": lambda d: f"cleared the high-risk mark{_because(d)}",
    "update": lambda d: f"posted a {'public' if d.get('public') else 'internal'} update: {d.get('message', '')}",
    "note": lambda d: f"noted: {d.get('text', '')}",
    "decision": lambda d: f"decided: {d.get('text', '')}",
    "hypothesis": lambda d: f"suggested a hypothesis: {d.get('text', '')}",
    "action": lambda d: f"took an action: {d.get('text', '')}",
    "role_assigned": lambda d: f"made {d.get('who', '?')} {str(d.get('role', '')).replace('_', ' ')}{_because(d)}",
    "role_removed": lambda d: f"removed {d.get('who', '?')} as {str(d.get('role', '')).replace('_', ' ')}"
                              f"{_because(d)}",
    "commander_handoff": lambda d: f"handed command from {d.get('from') or 'nobody'} to {d.get('to', '?')}"
                                   f"{_because(d)}",
    "severity": lambda d: f"changed the severity from {d.get('from', '?')} to {d.get('to', '?')}{_because(d)}",
    "retyped": lambda d: f"changed the type from {d.get('from', '?')} to {d.get('to', d.get('type', '?'))}"
                         f"{_because(d)}",
    "calls_linked": lambda d: f"linked {d.get('calls', 0)} call(s)",
    "hold_released": lambda d: f"released the legal hold on {d.get('calls', 0)} call(s)",
    "replay_started": lambda d: f"started replay {d.get('replay_id', '')}: {d.get('cases', 0)} case(s) x "
                                f"{d.get('n', 0)} on {', '.join(d.get('arms') or [])}",
    "replay_finished": _replay_done,
    "eval_lock_created": lambda d: f"made the eval lock {d.get('suite_id', '')} ({d.get('cases', 0)} cases)",
    "eval_lock_regenerated": lambda d: f"regenerated the eval lock {d.get('suite_id', '')}",
    "eval_lock_updated": lambda d: f"updated the eval lock {d.get('suite_id', '')}",
    "eval_lock_result": _eval_result,
    "eval_lock_waived": lambda d: f"waived the eval lock{_because(d)}",
    "fix_verification": lambda d: f"verified the fix: {d.get('verdict', '?')}"
                                  + (f" ({d['summary']})" if d.get("summary") else ""),
    "root_cause": lambda d: f"recorded the root cause: {d.get('category') or '?'}"
                            + (f", {d['summary']}" if d.get("summary") else ""),
    "action_item": lambda d: f"added action item \"{d.get('title', '')}\" for {d.get('owner', '?')}, due "
                             f"{d.get('due', '?')}",
    "action_item_done": lambda d: f"completed action item \"{d.get('title', '')}\"",
    "postmortem_completed": lambda d: "completed the post-mortem",
    "key_revoked": lambda d: f"revoked API key {d.get('key_id', '')}{_because(d)}",
    "sla_breached": lambda d: f"flagged the {d.get('clock', d.get('sla', ''))} SLA as breached",
    "affected_exported": lambda d: f"exported who was affected ({d.get('users', 0)} users){_because(d)}",
}


def sentence(kind: str, actor: str | None, data: dict[str, Any] | None) -> str:
    d = data if isinstance(data, dict) else {}
    fn = SENTENCES.get(kind)
    try:
        what = fn(d) if fn else f"recorded {kind.replace('_', ' ').replace('.', ' ')}" + (
            f": {d['message']}" if d.get("message") else _because(d))
    except (TypeError, ValueError, AttributeError, KeyError):
        what = f"recorded {kind.replace('_', ' ')}"
    return f"{who(actor)} {what}".strip()
