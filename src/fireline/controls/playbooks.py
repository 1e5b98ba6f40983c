"""Playbooks: incident type -> primary and secondary containment actions; auto-containment.

Config (`playbooks` section; a type's entry replaces the default for that type):

    playbooks:
      data_leakage:
        primary: kill_switch                      # or a list: the first applicable one
        secondary: [{kind: rate_limit, params: {per_minute: 5}}]
    auto_contain:                                 # type -> severities contained on open
      data_leakage: [P0]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fireline.config import Config
from fireline.controls import link, service
from fireline.controls.models import ControlRow
from fireline.controls.service import ControlSpec
from fireline.controls.state import Control
from fireline.db import Database
from fireline.errors import FirelineError, Invalid
from fireline.events import where
from fireline.metrics import AUTO_CONTAIN_FAILURES

log = logging.getLogger("fireline.controls")

Action = dict[str, Any]  # {"kind": ..., "params": {...}, "scope": {...}}

DEFAULT_PLAYBOOKS: dict[str, dict[str, Any]] = {
    "harmful_output": {"primary": "guardrail_threshold", "secondary": ["prompt_pin"]},
    "data_leakage": {"primary": "kill_switch", "secondary": ["rate_limit"]},
    "agentic_harm": {"primary": "read_only", "secondary": ["disable_tool"]},
    "prompt_injection": {"primary": {"kind": "rate_limit", "params": {"per_minute": 5, "key": "user"}},
                         "secondary": ["guardrail_threshold", "prompt_pin"]},
    "quality_degradation": {"primary": "model_pin", "secondary": []},
    "hallucination": {"primary": ["prompt_pin", "guardrail_threshold"], "secondary": []},
    "cost_runaway": {"primary": "rate_limit", "secondary": []},
    # Refusal spikes follow prompt or model changes: roll the prompt back, then the model.
    "capability_loss": {"primary": "prompt_pin", "secondary": ["model_pin"]},
}
DEFAULT_AUTO_CONTAIN: dict[str, list[str]] = {"data_leakage": ["P0"]}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "rate_limit": {"per_minute": 10, "key": "user"},
    "guardrail_threshold": {"action": "block"},
}
AUTO_ACTOR = "auto-contain"


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    primary: tuple[Action, ...]  # alternatives: the first applicable one is used
    secondary: tuple[Action, ...]


def _actions(value: Any) -> tuple[Action, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[Action] = []
    for item in items:
        action = {"kind": item} if isinstance(item, str) else dict(item)
        if "kind" not in action:
            raise Invalid(f"playbooks: an action needs a kind: {item!r}", field="playbooks")
        out.append(action)
    return tuple(out)


def playbooks(config: Config) -> dict[str, Playbook]:
    merged = dict(DEFAULT_PLAYBOOKS)
    merged.update(config.section("playbooks") or {})
    return {name: Playbook(name, _actions(spec.get("primary")), _actions(spec.get("secondary")))
            for name, spec in merged.items() if isinstance(spec, dict)}


def auto_contain_policy(config: Config) -> dict[str, list[str]]:
    section = config.section("auto_contain")
    if section is None:
        return dict(DEFAULT_AUTO_CONTAIN)
    if section is False:
        return {}
    return {str(k): list(v if isinstance(v, list) else [v]) for k, v in dict(section).items()
            if v not in (False, None)}


def _previous(items: list[str]) -> str | None:
    """The registry lists the current entry first; the rollback target is the next one."""
    return items[1] if len(items) > 1 else None


def specs_for(action: Action, incident: link.IncidentInfo, config: Config) -> list[ControlSpec]:
    """Concrete controls for one action on the incident's apps ([] when not applicable)."""
    kind = action["kind"]
    params = {**DEFAULT_PARAMS.get(kind, {}), **(action.get("params") or {})}
    base_scope = dict(action.get("scope") or {})
    reason = f"playbook {incident.playbook or incident.type}: {kind}"
    apps: list[str | None] = list(incident.apps) or ([None] if kind not in ("model_pin", "prompt_pin") else [])
    specs: list[ControlSpec] = []
    for app in apps:
        scope = {**base_scope, **({"app": app} if app else {})}
        cfg = config.app(app) if app else None
        p = dict(params)
        if kind == "model_pin":
            target = p.get("model") or (_previous(cfg.models) if cfg else None)
            if not target:
                continue
            p["model"] = target
        elif kind == "prompt_pin":
            target = p.get("version") or (_previous(list(cfg.prompts)) if cfg else None)
            if not target:
                continue
            p["version"] = target
        elif kind == "disable_tool":
            tools = list(incident.tools) or ([t for t, k in cfg.tools.items() if k == "write"] if cfg else [])
            for tool in tools:
                specs.append(ControlSpec(kind, {**scope, "tool": tool}, dict(p), incident.id, reason))
            continue
        specs.append(ControlSpec(kind, scope, p, incident.id, reason))
    return specs


def contain_incident(db: Database, incident_id: str, actor: str, all_actions: bool = False,
                     config: Config | None = None) -> list[Control]:
    """Apply the incident's playbook (primary; with `all_actions` the secondaries too) in one
    transaction after one evidence snapshot; move the incident to `contained`."""
    from fireline.config import get_config

    config = config or get_config()
    with service.transaction(db) as session:
        incident = link.get_incident(session, incident_id)
        book = playbooks(config).get(incident.playbook or incident.type) or playbooks(config).get(incident.type)
        if book is None:
            raise Invalid(f"no playbook for incident type {incident.type}; add one under `playbooks`",
                          field="type")
        chosen: list[ControlSpec] = []
        for action in book.primary:
            chosen = specs_for(action, incident, config)
            if chosen:
                break
        if not chosen:
            raise Invalid(f"playbook {book.name}: no primary action applies to apps "
                          f"{', '.join(incident.apps) or '(none)'} (check the app registry)", field="playbook")
        if all_actions:
            for action in book.secondary:
                chosen.extend(specs_for(action, incident, config))
        service.snapshot_first(session, incident_id, actor, f"before playbook {book.name}")
        rows = [service.apply_in_session(session, config, spec, actor, snapshot=False) for spec in chosen]
        link.mark_contained(session, incident_id, actor)
        controls = [service.to_control(r) for r in rows]
    service.published(db, max(c.revision for c in controls))
    return controls


def already_auto_contained(db: Database, incident_id: str) -> bool:
    """True once auto-containment applied controls to the incident, or it moved on without it
    (contained, resolved by hand): a redelivered "incident.opened" must not contain twice."""
    with db.session() as session:
        if session.scalar(select(ControlRow.id).where(ControlRow.incident_id == incident_id,
                                                      ControlRow.actor == AUTO_ACTOR).limit(1)) is not None:
            return True
        return link.get_incident(session, incident_id).state not in ("detected", "acknowledged")


def on_incident_opened(config: Config, refresh: Callable[[], Any] | None = None) -> Any:
    """An "incident.opened" handler applying the primary action under the auto_contain policy;
    `refresh` (the process's ControlBook) runs after a containment so the gateway sees it at once.

    Delivered through the outbox, so it is idempotent. A failure is visible: a timeline entry
    (`auto_containment_failed`, once per incident and process), a metric and a log line. A
    transient failure (the database) raises, so the outbox retries it with backoff; a
    configuration problem no retry can fix (no playbook applies) is recorded and not retried."""
    noted: set[str] = set()

    def record_failure(db: Database, incident_id: str, exc: BaseException, retried: bool) -> None:
        AUTO_CONTAIN_FAILURES.labels("retried" if retried else "final").inc()
        reason = exc.message if isinstance(exc, FirelineError) else type(exc).__name__
        log.error("auto-containment of %s failed: %s at %s%s", incident_id, reason, where(exc),
                  "; the outbox retries it" if retried else "")
        if incident_id in noted:
            return
        try:
            with db.writing() as session:
                link.append_timeline(session, incident_id, "auto_containment_failed", AUTO_ACTOR,
                                     {"error": reason[:500], "retried": retried})
            noted.add(incident_id)
        except Exception as write_exc:  # the database is likely what failed: the log line stands
            log.error("auto-containment failure of %s not on the timeline: %s", incident_id,
                      type(write_exc).__name__)

    def handler(*, db: Database, incident_id: str, type: str, severity: str, apps: list[str],
                **_: Any) -> None:
        policy = auto_contain_policy(config)
        if severity not in policy.get(type, []):
            return
        try:
            if already_auto_contained(db, incident_id):
                return
            controls = contain_incident(db, incident_id, AUTO_ACTOR, config=config)
        except FirelineError as exc:
            record_failure(db, incident_id, exc, retried=False)
            return
        except Exception as exc:
            record_failure(db, incident_id, exc, retried=True)
            raise
        log.warning("auto-contained %s (%s %s) with %s", incident_id, severity, type,
                    ", ".join(f"{c.kind} {c.id}" for c in controls))
        if refresh is not None:
            refresh()

    handler.__name__ = "auto_contain"
    return handler
