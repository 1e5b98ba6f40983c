"""Apply, revert, expire and list controls; the revision counter; validation per kind."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.calls import privacy
from fireline.config import Config
from fireline.controls import link
from fireline.controls.identity import user_scope
from fireline.controls.models import ControlRevision, ControlRow
from fireline.controls.notify import notify
from fireline.controls.state import KINDS, RATE_KEYS, SCOPE_KEYS, Control
from fireline.controls.users import MATCH
from fireline.db import Database, insert_for, utcnow
from fireline.durations import parse_minutes
from fireline.errors import Conflict, FirelineError, Forbidden, Invalid, NotFound
from fireline.patterns import compile_linear
from fireline.signals import SEVERITIES

GUARDRAIL_ACTIONS = ("block", "redact")


class SnapshotFailed(FirelineError):
    """The evidence snapshot before a change failed, so the change was not made."""

    status = 503


def snapshot_first(session: Session, incident_id: str, actor: str, reason: str) -> None:
    try:
        link.take_snapshot(session, incident_id, actor, reason)
    except FirelineError:
        raise
    except Exception as exc:
        raise SnapshotFailed(f"evidence snapshot of {incident_id} failed ({type(exc).__name__}: {exc}); "
                             "the control was not applied", incident_id=incident_id) from exc


@dataclass(slots=True)
class ControlSpec:
    kind: str
    scope: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None
    reason: str | None = None
    expires_at: datetime | None = None


def to_control(row: ControlRow) -> Control:
    return Control(id=row.id, kind=row.kind, scope=dict(row.scope), params=dict(row.params),
                   incident_id=row.incident_id, actor=row.actor, reason=row.reason,
                   created_at=row.created_at, expires_at=row.expires_at, revision=row.revision)


def to_out(row: ControlRow, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    active = row.reverted_at is None and (row.expires_at is None or row.expires_at > now)
    return {"id": row.id, "kind": row.kind, "scope": row.scope, "params": row.params,
            "incident_id": row.incident_id, "actor": row.actor, "reason": row.reason,
            "created_at": row.created_at, "expires_at": row.expires_at, "active": active,
            "revision": row.reverted_revision or row.revision, "applied_revision": row.revision,
            "reverted_at": row.reverted_at, "reverted_by": row.reverted_by,
            "revert_reason": row.revert_reason, "reverted_revision": row.reverted_revision}


# --- the revision counter -------------------------------------------------------------------

def bump_revision(session: Session) -> int:
    """Next revision, in the caller's transaction: one upsert on the single counter row. On
    PostgreSQL its row lock serialises writers until commit, so revisions commit in order; on
    SQLite the database write lock does the same."""
    insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    stmt = insert(ControlRevision).values(id=1, revision=1, updated_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=[ControlRevision.id],
                                      set_={"revision": ControlRevision.revision + 1, "updated_at": now})
    revision = int(session.execute(stmt.returning(ControlRevision.revision)).scalar_one())
    notify(session, revision)
    return revision


def current_revision(db: Database) -> int:
    with db.session() as session:
        value = session.scalar(select(ControlRevision.revision).where(ControlRevision.id == 1))
        return int(value or 0)


def active_rows(session: Session, now: datetime | None = None) -> list[ControlRow]:
    now = now or utcnow()
    return list(session.scalars(
        select(ControlRow).where(ControlRow.reverted_at.is_(None),
                                 or_(ControlRow.expires_at.is_(None), ControlRow.expires_at > now))
        .order_by(ControlRow.revision)))


def load_state(db: Database) -> tuple[int, list[Control]]:
    """The revision and the active controls, read in one transaction."""
    with db.session() as session, session.begin():
        revision = session.scalar(select(ControlRevision.revision).where(ControlRevision.id == 1)) or 0
        return int(revision), [to_control(r) for r in active_rows(session)]


# --- validation ----------------------------------------------------------------------------

def _need_app(config: Config, scope: dict[str, str], kind: str) -> str:
    app = scope.get("app")
    if not app:
        raise Invalid(f"{kind} needs scope.app (the app whose registry it uses)", field="scope.app")
    if app not in config.apps:
        raise Invalid(f"scope.app: no app {app!r} in the config (apps: {', '.join(config.apps) or 'none'})",
                      field="scope.app")
    return app


def validate(config: Config, spec: ControlSpec, *, allow_inject: bool = False,
             now: datetime | None = None) -> ControlSpec:
    """Check and normalise a control; Invalid names the offending field."""
    if spec.kind not in KINDS:
        raise Invalid(f"kind: must be one of {', '.join(KINDS)}", field="kind")
    scope = {str(k): str(v) for k, v in (spec.scope or {}).items()}
    match = scope.pop("user_match", None)  # from a control validated before (validation is idempotent)
    for key in scope:
        if key not in SCOPE_KEYS:
            raise Invalid(f"scope.{key}: unknown scope key; use {', '.join(SCOPE_KEYS)}", field=f"scope.{key}")
    is_global = scope.pop("global", "").strip().lower() in ("true", "1", "yes")
    if is_global:
        if set(scope) - {"tool"}:
            raise Invalid("scope.global: a global control cannot also name "
                          f"{', '.join(sorted(set(scope) - {'tool'}))}; drop one or the other", field="scope.global")
        if not (spec.reason or "").strip():
            raise Invalid("reason: a global control (every app, every user) needs a reason", field="reason")
        scope["global"] = "true"
    elif not (set(scope) - {"tool"}):
        raise Invalid("scope: a control without app, tenant, user, model or cohort acts on every app; "
                      "say so with scope.global=true (CLI --global) and a reason", field="scope")
    if "user" in scope:
        scope.update(user_scope(scope["user"]))
        if match and "user_match" not in scope and MATCH.fullmatch(match):
            scope["user_match"] = match
    params = dict(spec.params or {})
    kind = spec.kind

    def bad(name: str, message: str) -> Invalid:
        return Invalid(f"params.{name}: {message}", field=f"params.{name}")

    if kind == "kill_switch":
        if "message" in params and not isinstance(params["message"], str):
            raise bad("message", "must be a string")
    elif kind == "model_pin":
        app = _need_app(config, scope, kind)
        models = config.app(app).models
        if params.get("model") not in models:
            raise bad("model", f"{params.get('model')!r} is not in the registry of {app} "
                               f"({', '.join(models) or 'no models configured'})")
    elif kind == "prompt_pin":
        app = _need_app(config, scope, kind)
        prompts = config.app(app).prompts
        if params.get("version") not in prompts:
            raise bad("version", f"{params.get('version')!r} is not a registered prompt version of {app} "
                                 f"({', '.join(prompts) or 'no prompts configured'})")
    elif kind == "disable_tool":
        tool = scope.get("tool") or params.pop("tool", None)
        if not tool:
            raise Invalid("disable_tool needs scope.tool", field="scope.tool")
        scope["tool"] = str(tool)
    elif kind == "rate_limit":
        per_minute = params.get("per_minute")
        if isinstance(per_minute, bool) or not isinstance(per_minute, int | float) or per_minute < 1:
            raise bad("per_minute", "must be a number >= 1")
        if "per" in params:  # the old name: one name (`key`) everywhere now
            legacy = params.pop("per")
            params.setdefault("key", legacy)
        if params.get("key", "user") not in RATE_KEYS:
            raise bad("key", f"must be one of {', '.join(RATE_KEYS)}")
    elif kind == "budget":
        params = budget_params(params, bad)
    elif kind == "guardrail_threshold":
        params.setdefault("action", "block")
        if params["action"] not in GUARDRAIL_ACTIONS:
            raise bad("action", "must be 'block' or 'redact'")
        detectors = params.get("detectors")
        if detectors is not None and (not isinstance(detectors, list)
                                      or not all(isinstance(d, str) for d in detectors)):
            raise bad("detectors", "must be a list of detector names")
        if params.get("min_severity") is not None and params["min_severity"] not in SEVERITIES:
            raise bad("min_severity", f"must be one of {', '.join(SEVERITIES)}")
        sure = params.get("min_confidence")
        if sure is not None and (isinstance(sure, bool) or not isinstance(sure, int | float) or not 0 <= sure <= 1):
            raise bad("min_confidence", "must be a number from 0 to 1")
    elif kind == "block_pattern":
        compile_linear(params.get("pattern"), "params.pattern")  # RE2: linear time, or refused
        params.setdefault("on", "output")
        if params["on"] not in ("input", "output"):
            raise bad("on", "must be 'input' or 'output'")
    elif kind == "inject":
        if not allow_inject:
            raise Forbidden("inject controls need an admin key")
        if not isinstance(params.get("output"), str):
            raise bad("output", "must be the scripted output text")
        if params.get("cohort") is not None and not isinstance(params["cohort"], str):
            raise bad("cohort", "must be a string")
    if spec.expires_at is not None and spec.expires_at <= (now or utcnow()):
        raise Invalid("expires_at: must be in the future", field="expires_at")
    reason = privacy.scrub(spec.reason) if spec.reason else spec.reason
    return ControlSpec(kind=kind, scope=scope, params=params, incident_id=spec.incident_id,
                       reason=reason, expires_at=spec.expires_at)


BUDGET_PERIODS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


def budget_params(params: dict[str, Any], bad: Any) -> dict[str, Any]:
    """A budget: `tokens` or `usd` per `per` (minute, hour, day or a duration such as '10m'),
    counted per `key` (the API key id by default; user, tenant or session)."""
    limits = [k for k in ("tokens", "usd") if k in params]
    if len(limits) != 1:
        raise bad("tokens", "a budget sets exactly one of tokens or usd")
    limit = params[limits[0]]
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
        raise bad(limits[0], "must be a number above 0")
    per = params.get("per", "hour")
    if per not in BUDGET_PERIODS:
        try:
            params["window_s"] = parse_minutes(per) * 60.0
        except ValueError as exc:
            raise bad("per", f"{exc}; or minute, hour, day") from None
    else:
        params["window_s"] = BUDGET_PERIODS[per]
    params["per"] = per
    params.setdefault("key", "key")
    if params["key"] not in RATE_KEYS:
        raise bad("key", f"must be one of {', '.join(RATE_KEYS)}")
    return params


# --- changes ---------------------------------------------------------------------------------

@contextmanager
def transaction(db: Database) -> Iterator[Session]:
    """db.writing(), then the incidents events queued in the session, published after commit."""
    session: Session | None = None
    try:
        with db.writing() as s:
            session = s
            yield s
    except BaseException:
        if session is not None:
            link.discard_pending(session)
        raise
    assert session is not None
    link.publish_pending(db, session)


def _timeline_data(row: ControlRow, revision: int) -> dict[str, Any]:
    params = {k: v for k, v in row.params.items() if k != "output"}  # no scripted content
    return {"control_id": row.id, "kind": row.kind, "scope": row.scope, "params": params,
            "revision": revision, "reason": row.reason,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None}


def in_force(session: Session, spec: ControlSpec, now: datetime | None = None) -> ControlRow | None:
    """The active control that already does what `spec` asks (same kind, scope, params and
    incident), if any: applying it again changes nothing."""
    now = now or utcnow()
    rows = session.scalars(select(ControlRow).where(
        ControlRow.kind == spec.kind, ControlRow.reverted_at.is_(None),
        or_(ControlRow.expires_at.is_(None), ControlRow.expires_at > now),
        ControlRow.incident_id.is_(None) if spec.incident_id is None else ControlRow.incident_id == spec.incident_id))
    for row in rows:
        if dict(row.scope) == spec.scope and dict(row.params) == spec.params:
            return row
    return None


def apply_in_session(session: Session, config: Config, spec: ControlSpec, actor: str, *,
                     allow_inject: bool = False, snapshot: bool = True) -> ControlRow:
    """Validate, snapshot the incident's evidence first, then record the control and bump the
    revision, all in the caller's transaction. Publishing is the caller's job (after commit).
    Idempotent: when the same control is in force already, that row comes back unchanged
    (`session.info["existing"]` lists its id) and nothing is written."""
    spec = validate(config, spec, allow_inject=allow_inject)
    existing = in_force(session, spec)
    if existing is not None:
        session.info.setdefault("existing", []).append(existing.id)
        return existing
    if spec.incident_id:
        link.check_incident(session, spec.incident_id)
        if snapshot:
            snapshot_first(session, spec.incident_id, actor, f"before applying {spec.kind}")
    revision = bump_revision(session)
    row = ControlRow(id="ctl_" + str(ULID()).lower(), kind=spec.kind, scope=spec.scope, params=spec.params,
                     incident_id=spec.incident_id, actor=actor, reason=spec.reason, created_at=utcnow(),
                     expires_at=spec.expires_at, revision=revision)
    session.add(row)
    session.flush()
    if row.incident_id:
        link.append_timeline(session, row.incident_id, "control.applied", actor, _timeline_data(row, revision))
    return row


def published(db: Database, revision: int) -> None:
    db.bus.publish("controls.changed", db=db, revision=revision)


def apply_control(db: Database, config: Config, spec: ControlSpec, actor: str, *,
                  allow_inject: bool = False) -> dict[str, Any]:
    """The control as applied; `existing` is True when the same one was in force already."""
    with transaction(db) as session:
        row = apply_in_session(session, config, spec, actor, allow_inject=allow_inject)
        existing = row.id in session.info.pop("existing", [])
        out = to_out(row)
    if not existing:
        published(db, row.revision)
    return {**out, "existing": existing}


def _revert_row(session: Session, row: ControlRow, actor: str, reason: str | None, kind: str) -> int:
    revision = bump_revision(session)
    row.reverted_at, row.reverted_by, row.revert_reason = utcnow(), actor, reason
    row.reverted_revision = revision
    session.flush()
    if row.incident_id:
        data = _timeline_data(row, revision) | {"revert_reason": reason}
        link.append_timeline(session, row.incident_id, kind, actor, data)
    return revision


def revert_control(db: Database, control_id: str, actor: str, reason: str | None = None) -> dict[str, Any]:
    with transaction(db) as session:
        row = session.get(ControlRow, control_id, with_for_update=not db.is_sqlite)
        if row is None:
            raise NotFound(f"no control with id {control_id}")
        if row.reverted_at is not None:
            raise Conflict(f"control {control_id} was already reverted at {row.reverted_at.isoformat()} "
                           f"by {row.reverted_by}", reverted_by=row.reverted_by)
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise Conflict(f"control {control_id} has expired", expired_at=row.expires_at.isoformat())
        revision = _revert_row(session, row, actor, reason, "control.reverted")
        out = to_out(row)
    published(db, revision)
    return out


def expire_due(db: Database, now: datetime | None = None) -> list[str]:
    """Mark controls past their expiry as reverted by "expiry" (one revision for the batch)."""
    now = now or utcnow()
    with transaction(db) as session:
        rows = list(session.scalars(select(ControlRow).where(
            ControlRow.reverted_at.is_(None), ControlRow.expires_at.is_not(None),
            ControlRow.expires_at <= now).with_for_update(skip_locked=True)))
        if not rows:
            return []
        revision = bump_revision(session)
        for row in rows:
            row.reverted_at, row.reverted_by, row.revert_reason = now, "expiry", "expired"
            row.reverted_revision = revision
            if row.incident_id:
                link.append_timeline(session, row.incident_id, "control.expired", "expiry",
                                     _timeline_data(row, revision))
        ids = [r.id for r in rows]
    published(db, revision)
    return ids


def get_control(db: Database, control_id: str) -> dict[str, Any]:
    with db.session() as session:
        row = session.get(ControlRow, control_id)
        if row is None:
            raise NotFound(f"no control with id {control_id}")
        return to_out(row)


def list_controls(db: Database, *, include_all: bool = False, incident_id: str | None = None,
                  app: str | None = None, kind: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    now = utcnow()
    with db.session() as session:
        query = select(ControlRow)
        if not include_all:
            query = query.where(ControlRow.reverted_at.is_(None),
                                or_(ControlRow.expires_at.is_(None), ControlRow.expires_at > now))
        if incident_id:
            query = query.where(ControlRow.incident_id == incident_id)
        if kind:
            query = query.where(ControlRow.kind == kind)
        rows: Sequence[ControlRow] = list(session.scalars(query.order_by(ControlRow.revision.desc()).limit(limit)))
        if app:
            rows = [r for r in rows if r.scope.get("app") in (None, app)]
        return [to_out(r, now) for r in rows]


def evidence(session: Session, *_: Any, **__: Any) -> dict[str, Any]:
    """The control-plane state for evidence snapshots: revision and active controls."""
    revision = session.scalar(select(ControlRevision.revision).where(ControlRevision.id == 1)) or 0
    return {"revision": int(revision), "controls": [to_control(r).to_json() for r in active_rows(session)]}

