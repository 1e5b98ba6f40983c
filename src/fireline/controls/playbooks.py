"""Playbooks: incident type -> primary and secondary containment actions; auto-containment.

Config (`playbooks` section; a type's entry replaces the default for that type):

    playbooks:
      data_leakage:
        primary: kill_switch                      # or a list: the first applicable one
        secondary: [{kind: rate_limit, params: {per_minute: 5}}]
      cost_runaway:
        primary: [revoke_key, {kind: kill_switch, when: [session]}, rate_limit]

Actions are scoped to the incident's signature: the dimension the rule behind it names (a session
over its limits: that session; a budget per key: that key), else its one tenant; app-wide only when
it spans several (`signature: false` on an action keeps it
app-wide). `when: [session, key, tenant, app]` makes an action apply only at those signatures.
`revoke_key` is not a control: it revokes the incident's API key (signature `key` only). A
model_pin or prompt_pin without a target rolls back to the version in effect before onset
(controls.rollback), and does not apply when the version did not change at onset.
    auto_contain:                                 # type -> severities contained on open ("*": every type)
      "*": [P0]
      data_leakage: [P0, P1]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.config import Config
from fireline.controls import link, rollback, service
from fireline.controls.models import ControlRow
from fireline.controls.service import ControlSpec
from fireline.controls.state import KINDS, Control
from fireline.db import Database
from fireline.errors import FirelineError, Invalid
from fireline.events import where
from fireline.incidents.taxonomy import TYPES, check_triage
from fireline.metrics import AUTO_CONTAIN_FAILURES
from fireline.signals import SEVERITIES

log = logging.getLogger("fireline.controls")

Action = dict[str, Any]  # {"kind": ..., "params": {...}, "scope": {...}}

DEFAULT_PLAYBOOKS: dict[str, dict[str, Any]] = {
    # Blocks only what harmful_output finds from strong terms (measured precise enough, see
    # docs/detectors.md); findings from weak cues stay flags.
    "harmful_output": {"primary": {"kind": "guardrail_threshold", "params": {"detectors": ["harmful_output"]}},
                       "secondary": ["prompt_pin"]},
    "data_leakage": {"primary": "kill_switch", "secondary": ["rate_limit"]},
    "agentic_harm": {"primary": "read_only", "secondary": ["disable_tool"]},
    "prompt_injection": {"primary": {"kind": "rate_limit", "params": {"per_minute": 5, "key": "user"}},
                         "secondary": ["guardrail_threshold", "prompt_pin"]},
    "quality_degradation": {"primary": "model_pin", "secondary": []},
    "hallucination": {"primary": ["prompt_pin", "guardrail_threshold"], "secondary": []},
    # A stolen key is revoked; a session in a loop is stopped; otherwise requests are slowed per user.
    "cost_runaway": {"primary": ["revoke_key", {"kind": "kill_switch", "when": ["session"]}, "rate_limit"],
                     "secondary": []},
    # Refusal spikes follow prompt or model changes: roll the prompt back, then the model.
    "capability_loss": {"primary": "prompt_pin", "secondary": ["model_pin"]},
}
# P0 of every type, and P1 where the harm is done by the time a person reads the page.
DEFAULT_AUTO_CONTAIN: dict[str, list[str]] = {"*": ["P0"], "agentic_harm": ["P0", "P1"],
                                              "data_leakage": ["P0", "P1"]}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "rate_limit": {"per_minute": 10, "key": "user"},
    # A playbook's guardrail blocks only findings at least this sure: PII, secrets, canaries and
    # harmful_output's strong terms (0.9-1.0); weak-cue harmful_output (0.6), injection markers
    # (0.7) and grounding (0.6-0.8) stay flags. A control made by hand has no floor unless it sets one.
    "guardrail_threshold": {"action": "block", "min_confidence": 0.9},
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


# Playbook actions that are not controls (validated by the code that runs them).
EXTRA_ACTIONS: frozenset[str] = frozenset({"revoke_key"})


def check_config(config: Config) -> None:
    """Every playbook action and the auto_contain policy, validated as containment would validate
    them, when the server starts; Invalid names the field (playbooks.<type>.primary[0].params.on)."""
    policy = auto_contain_policy(config)
    for type_name, severities in policy.items():
        if type_name not in TYPES and type_name != "*":
            raise Invalid(f"auto_contain.{type_name}: not an incident type ({', '.join(sorted(TYPES))})",
                          field=f"auto_contain.{type_name}")
        for sev in severities:
            if sev not in SEVERITIES:
                raise Invalid(f"auto_contain.{type_name}: {sev!r} is not one of {', '.join(SEVERITIES)}",
                              field=f"auto_contain.{type_name}")
    section = config.section("playbooks") or {}
    if not isinstance(section, dict):
        raise Invalid("playbooks: a mapping of incident type -> {primary, secondary}", field="playbooks")
    for name, spec in section.items():
        if not isinstance(spec, dict):
            raise Invalid(f"playbooks.{name}: a mapping with primary and secondary", field=f"playbooks.{name}")
        unknown = set(spec) - {"primary", "secondary"}
        if unknown:
            raise Invalid(f"playbooks.{name}.{sorted(unknown)[0]}: unknown key; use primary and secondary",
                          field=f"playbooks.{name}")
    books = playbooks(config)
    for name in check_triage(config.section("triage")):
        if name not in books:
            raise Invalid(f"triage: playbook {name!r} is not defined; add it under `playbooks`", field="triage")
    apps = list(config.apps)
    for book in books.values():
        for which, actions in (("primary", book.primary), ("secondary", book.secondary)):
            for i, action in enumerate(actions):
                where = f"playbooks.{book.name}.{which}[{i}]"
                try:
                    _check_action(config, action, apps)
                except Invalid as exc:
                    raise Invalid(f"{where}.{exc.message}", field=where) from exc


def _check_action(config: Config, action: Action, apps: list[str]) -> None:
    kind = action["kind"]
    unknown = set(action) - {"kind", "params", "scope", "when", "signature"}
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]}: unknown key; use kind, params, scope, when, signature",
                      field=sorted(unknown)[0])
    when = action.get("when")
    if when is not None and (not isinstance(when, list) or not set(when) <= {"session", "key", "tenant", "app"}):
        raise Invalid("when: a list of session, key, tenant, app", field="when")
    if kind in EXTRA_ACTIONS:
        return
    if kind not in KINDS:
        raise Invalid(f"kind: {kind!r} is not one of {', '.join(KINDS)}", field="kind")
    params = action.get("params") or {}
    scope = action.get("scope") or {}
    if not isinstance(params, dict) or not isinstance(scope, dict):
        raise Invalid("params: a mapping", field="params")
    params = {**DEFAULT_PARAMS.get(kind, {}), **params}
    if kind in ("model_pin", "prompt_pin"):
        key = "model" if kind == "model_pin" else "version"
        if key not in params:
            return  # the rollback target comes from the app registry at containment time
        fits = [a for a in apps if params[key] in (config.app(a).models if kind == "model_pin"
                                                   else config.app(a).prompts)]
        if not fits:
            raise Invalid(f"params.{key}: {params[key]!r} is in no app's registry", field=f"params.{key}")
        scope = {**scope, "app": fits[0]}
    if kind == "disable_tool":
        scope = {"tool": "(from the incident)", **scope}
    if not set(scope) - {"tool"}:  # containment scopes it to the incident's app (or signature)
        scope = {"app": "(from the incident)", **scope}
    service.validate(config, ControlSpec(kind, scope, params, None, "config check"), allow_inject=True)


def contains(policy: dict[str, list[str]], type_name: str, severity: str) -> bool:
    """Whether the auto_contain policy covers this type and severity (a type's own entry wins over "*")."""
    severities = policy.get(type_name, policy.get("*", []))
    return severity in severities


def _previous(items: list[str]) -> str | None:
    """The registry lists the current entry first; the next one is the fallback rollback target
    when the prompt log holds no call from before onset."""
    return items[1] if len(items) > 1 else None


SIGNATURE = {"session": "sessions", "key": "keys", "tenant": "tenants"}


def signature_scope(incident: link.IncidentInfo) -> dict[str, str]:
    """What the incident is about, when it is one value: the dimension the rule behind it names
    (a session over its limits: that session; a budget per key: that key), else its one tenant;
    {} (app-wide) when it spans several. A session or a key is never guessed from the first calls
    a monitor saw: a fault of the app reaches every session."""
    dim = incident.scope_by if incident.scope_by in SIGNATURE else "tenant"
    values = getattr(incident, SIGNATURE[dim])
    return {dim: values[0]} if len(values) == 1 else {}


def _rollback_target(session: Session | None, incident: link.IncidentInfo, app: str, kind: str,
                     registry: list[str]) -> tuple[str | None, str]:
    if session is None:
        return _previous(registry), "the registry's previous entry"
    target, evidence = rollback.version_before_onset(session, incident, app, kind, registry)
    if target is not None:
        return target, f"in effect before onset ({evidence['calls_before']} calls before {evidence['onset'][:19]})"
    if evidence.get("reason") == "no calls before onset":
        return _previous(registry), "no call before onset in the log: the registry's previous entry"
    return None, str(evidence.get("reason"))


def specs_for(action: Action, incident: link.IncidentInfo, config: Config,
              session: Session | None = None) -> list[ControlSpec]:
    """Concrete controls for one action on the incident's apps ([] when not applicable)."""
    kind = action["kind"]
    params = {**DEFAULT_PARAMS.get(kind, {}), **(action.get("params") or {})}
    signature = signature_scope(incident) if action.get("signature", True) else {}
    when = action.get("when")
    if when and (next(iter(signature), "app") not in when):
        return []
    if kind == "revoke_key":
        return []  # not a control: see key_revocations
    base_scope = {**dict(action.get("scope") or {}), **signature}
    reason = f"playbook {incident.playbook or incident.type}: {kind}"
    if signature:
        reason += " for " + ", ".join(f"{k} {v}" for k, v in signature.items())
    apps: list[str | None] = list(incident.apps) or ([None] if kind not in ("model_pin", "prompt_pin") else [])
    specs: list[ControlSpec] = []
    for app in apps:
        scope = {**base_scope, **({"app": app} if app else {})}
        cfg = config.app(app) if app else None
        p = dict(params)
        if kind in ("model_pin", "prompt_pin"):
            field = "model" if kind == "model_pin" else "version"
            registry = (list(cfg.models) if kind == "model_pin" else list(cfg.prompts)) if cfg else []
            why = "given"
            target = p.get(field)
            if not target and app:
                target, why = _rollback_target(session, incident, app, kind, registry)
            if not target:
                continue
            p[field] = target
            specs.append(ControlSpec(kind, scope, p, incident.id, f"{reason}: {target} ({why})"))
            continue
        elif kind == "disable_tool":
            tools = list(incident.tools) or ([t for t, k in cfg.tools.items() if k == "write"] if cfg else [])
            for tool in tools:
                specs.append(ControlSpec(kind, {**scope, "tool": tool}, dict(p), incident.id, reason))
            continue
        specs.append(ControlSpec(kind, scope, p, incident.id, reason))
    return specs


def key_revocations(action: Action, incident: link.IncidentInfo) -> list[str]:
    """The API key ids a revoke_key action revokes: the incident's key, when the key is its signature."""
    if action["kind"] != "revoke_key":
        return []
    signature = signature_scope(incident)
    return [signature["key"]] if "key" in signature else []


@dataclass(slots=True)
class Containment:
    controls: list[Control]
    revoked_keys: list[str]


def contain(db: Database, incident_id: str, actor: str, all_actions: bool = False,
            config: Config | None = None, refresh: Callable[[], Any] | None = None) -> Containment:
    """Apply the incident's playbook (primary; with `all_actions` the secondaries too) in one
    transaction after one evidence snapshot; then, once `refresh` (this process's ControlBook) has
    put them in force, move the incident to `contained`: `contained_at` is when the gateway obeys,
    not when the rows were written. Idempotent: controls already in force are not applied twice
    (`contain` twice keeps one set); when all are, nothing is written."""
    from fireline.config import get_config

    config = config or get_config()
    with service.transaction(db) as session:
        incident = link.get_incident(session, incident_id)
        book = playbooks(config).get(incident.playbook or incident.type) or playbooks(config).get(incident.type)
        if book is None:
            raise Invalid(f"no playbook for incident type {incident.type}; add one under `playbooks`",
                          field="type")
        chosen: list[ControlSpec] = []
        revoke: list[str] = []
        for action in book.primary:
            chosen, revoke = specs_for(action, incident, config, session), key_revocations(action, incident)
            if chosen or revoke:
                break
        if not chosen and not revoke:
            raise Invalid(f"playbook {book.name}: no primary action applies to apps "
                          f"{', '.join(incident.apps) or '(none)'} (check the app registry)", field="playbook")
        if all_actions:
            for action in book.secondary:
                chosen.extend(specs_for(action, incident, config, session))
                revoke.extend(key_revocations(action, incident))
        checked = [service.validate(config, spec) for spec in chosen]
        kept = [service.in_force(session, spec) for spec in checked]
        changed = any(row is None for row in kept)
        if changed or revoke:
            service.snapshot_first(session, incident_id, actor, f"before playbook {book.name}")
        rows = [row or service.apply_in_session(session, config, spec, actor, snapshot=False)
                for row, spec in zip(kept, checked, strict=True)]
        session.info.pop("existing", None)
        for key_id in dict.fromkeys(revoke):
            link.revoke_key(session, incident_id, key_id, actor, f"playbook {book.name}: revoke_key")
        controls = list({r.id: service.to_control(r) for r in rows}.values())
    if controls and changed:
        service.published(db, max(c.revision for c in controls))
    if refresh is not None:
        refresh()
    with service.transaction(db) as session:
        link.mark_contained(session, incident_id, actor)
    return Containment(controls, list(dict.fromkeys(revoke)))


def contain_incident(db: Database, incident_id: str, actor: str, all_actions: bool = False,
                     config: Config | None = None, refresh: Callable[[], Any] | None = None) -> list[Control]:
    """The controls `contain` applied (key revocations are on the incident's timeline)."""
    return contain(db, incident_id, actor, all_actions, config, refresh).controls


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
                **extra: Any) -> None:
        asked = extra.get("contain") is True  # the rule behind the alert asks for containment
        if not asked and not contains(auto_contain_policy(config), type, severity):
            return
        try:
            if already_auto_contained(db, incident_id):
                return
            done = contain(db, incident_id, AUTO_ACTOR, config=config, refresh=refresh)
        except FirelineError as exc:
            record_failure(db, incident_id, exc, retried=False)
            return
        except Exception as exc:
            record_failure(db, incident_id, exc, retried=True)
            raise
        what = [f"{c.kind} {c.id}" for c in done.controls] + [f"revoked {k}" for k in done.revoked_keys]
        log.warning("auto-contained %s (%s %s) with %s", incident_id, severity, type, ", ".join(what))
        if refresh is not None:
            refresh()

    handler.__name__ = "auto_contain"
    return handler


def on_incident_escalated(auto: Any) -> Any:
    """An "incident.escalated" handler: the auto-containment handler, for an incident not yet contained."""

    def handler(**payload: Any) -> None:
        auto(**payload, escalated=True)

    handler.__name__ = "auto_contain_escalated"
    return handler
