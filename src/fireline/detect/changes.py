"""Change awareness: Fireline records change markers by itself from what every call carries.

Per app it follows five attributes, each within a scope:

| attribute | scope | value | marker kind |
|---|---|---|---|
| resolved model | the model asked for (the alias) | `model_resolved` | model |
| system fingerprint | the resolved model | `metadata.system_fingerprint` | model |
| system prompt | the prompt version | `system_prompt_sha256` | prompt |
| tool definitions | the app | `metadata.tools_sha256` (names, schemas, descriptions) | config |
| guardrail config | the app | hash of the guardrails' names, stages and settings | guardrail |

A value not seen in that scope for `MEMORY_DAYS` is a change: a marker is recorded at the first
call that carried it, from the value seen last. So a switch back and forth (A/B traffic, two
backends behind one alias) records each value once, not on every call, and the first value an
app ever shows is its starting state, not a change. State is rebuilt at start from the prompt
log's columns and from the markers recorded before.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select

from fireline.calls.models import Call
from fireline.calls.service import PreparedCall
from fireline.db import Database
from fireline.ingest import changes as markers
from fireline.ingest.models import Change

log = logging.getLogger("fireline.detect.changes")

MEMORY_DAYS = 7
_MEMORY = timedelta(days=MEMORY_DAYS)
ACTOR = "fireline"
KIND = {"model": "model", "system_fingerprint": "model", "system_prompt": "prompt", "tool_definitions": "config",
        "guardrail_config": "guardrail"}
_GUARDRAIL_DECISIONS = frozenset({"action", "decision", "result", "outcome", "blocked", "score", "evidence",
                                  "message", "reason", "at", "latency_ms"})


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def guardrail_config(guardrails: Any) -> str | None:
    """The hash of which guardrails ran where and with what settings (not what they decided)."""
    if not isinstance(guardrails, list) or not guardrails:
        return None
    conf = sorted(orjson.dumps({k: v for k, v in g.items() if k not in _GUARDRAIL_DECISIONS},
                                option=orjson.OPT_SORT_KEYS).decode()
                   for g in guardrails if isinstance(g, dict) and not g.get("control"))
    return digest(conf)[:16] if conf else None


def attributes(p: PreparedCall) -> list[tuple[str, str, str]]:
    """(attribute, scope, value) of one call."""
    row = p.row
    meta = p.raw.get("metadata") or {}
    out: list[tuple[str, str, str]] = []
    if row.get("model") and row.get("model_resolved"):
        out.append(("model", str(row["model"]), str(row["model_resolved"])))
    fp = meta.get("system_fingerprint")
    if fp:
        out.append(("system_fingerprint", str(row.get("model_resolved") or row.get("model") or "-"), str(fp)[:200]))
    if row.get("system_prompt_sha256"):
        out.append(("system_prompt", str(row.get("prompt_version") or "-"), str(row["system_prompt_sha256"])))
    tools = meta.get("tools_sha256")
    if isinstance(tools, str):
        out.append(("tool_definitions", "-", tools))
    guard = guardrail_config(p.raw.get("guardrails"))
    if guard:
        out.append(("guardrail_config", "-", guard))
    return out


def _utc(at: datetime) -> datetime:
    """A time without an offset is UTC (as stored); a batch may mix both forms."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class ChangeTracker:
    """Last-seen time of every (app, attribute, scope, value); records a marker on a new value."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: dict[tuple[str, str, str], dict[str, datetime]] = {}

    def warm(self) -> None:
        since = datetime.now(UTC) - timedelta(days=MEMORY_DAYS)
        with self.db.session() as session:
            rows = session.execute(select(Call.app, Call.model, Call.model_resolved, func.max(Call.started_at))
                                   .where(Call.started_at >= since, Call.model.is_not(None))
                                   .group_by(Call.app, Call.model, Call.model_resolved)).all()
            for app, alias, resolved, at in rows:
                if resolved and alias:
                    self._remember((app, "model", alias), resolved, at)
            rows = session.execute(select(Call.app, Call.prompt_version, Call.system_prompt_sha256,
                                          func.max(Call.started_at))
                                   .where(Call.started_at >= since, Call.system_prompt_sha256.is_not(None))
                                   .group_by(Call.app, Call.prompt_version, Call.system_prompt_sha256)).all()
            for app, version, sha, at in rows:
                if sha:
                    self._remember((app, "system_prompt", version or "-"), sha, at)
            for row in session.scalars(select(Change).where(Change.at >= since, Change.actor == ACTOR)):
                d = row.details or {}
                if d.get("attribute") and row.to_version:
                    self._remember((row.app, d["attribute"], d.get("scope") or "-"), row.to_version, row.at)

    def _remember(self, key: tuple[str, str, str], value: str, at: Any) -> None:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        values = self.seen.setdefault(key, {})
        if at is not None and (value not in values or values[value] < at):
            values[value] = at

    def observe(self, calls: list[PreparedCall]) -> list[dict[str, Any]]:
        """Update the state from a batch; record and return the markers it revealed."""
        found: list[dict[str, Any]] = []
        for at, p in sorted(((_utc(c.row["started_at"]), c) for c in calls), key=lambda pair: pair[0]):
            for attribute, scope, value in attributes(p):
                key = (p.row["app"], attribute, scope)
                values = self.seen.get(key)
                if values is None:
                    self.seen[key] = {value: at}
                    continue
                last = values.get(value)
                fresh = last is None or at - last > _MEMORY
                if fresh and values:
                    previous = max(values, key=lambda v: values[v])
                    if previous != value and values[previous] <= at:
                        found.append({"app": key[0], "attribute": attribute, "scope": scope, "from": previous,
                                      "to": value, "at": at, "call_id": p.id})
                if last is None or last < at:
                    values[value] = at
        if found:
            self.record(found)
        return found

    def record(self, found: list[dict[str, Any]]) -> None:
        with self.db.writing() as session:
            for f in found:
                what = f["attribute"].replace("_", " ")
                scope = "" if f["scope"] == "-" else f" ({f['scope']})"
                markers.record(session, markers.ChangeIn.model_validate({
                    "kind": KIND[f["attribute"]], "app": f["app"], "from": f["from"][:500], "to": f["to"][:500],
                    "actor": ACTOR, "at": f["at"],
                    "description": f"{what}{scope} changed, seen on call {f['call_id']}",
                    "details": {"auto": True, "attribute": f["attribute"], "scope": f["scope"],
                                "first_call": f["call_id"]}}), recorded_by=ACTOR)
        log.info("recorded %d change markers", len(found))
