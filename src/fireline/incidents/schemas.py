"""Request bodies and the incident JSON (DESIGN.md CONTRACT plus Fireline's extras)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.incidents.models import Incident
from fireline.incidents.taxonomy import TYPES
from fireline.incidents.timeline import stamp
from fireline.validation import NonBlank

# The incident's scope and signature; users are pseudonyms, keys are API key ids (never the secret).
# scope_by: the dimension the incident is about when a rule says so (session, key, tenant, user).
SCOPE_KEYS = ("apps", "tenants", "models", "prompt_versions", "tools", "sessions", "keys", "users", "scope_by")


def counts_of(scope: dict[str, Any]) -> dict[str, int]:
    """The exact distinct count per scope dimension (incidents.scope: the lists are samples of at most
    100 values); incidents from before the counts: their list's length."""
    counts = scope.get("counts")
    counts = counts if isinstance(counts, dict) else {}
    return {k: int(counts.get(k, len(scope.get(k) or []))) for k in SCOPE_KEYS}


def public_scope(scope: dict[str, Any] | None) -> dict[str, Any]:
    """The scope as the API and the post-mortem show it: the lists (samples: the first values seen),
    `counts` (exact distinct counts) and `truncated` (the dimensions whose list is a sample)."""
    scope = scope or {}
    out: dict[str, Any] = {k: list(scope.get(k, [])) for k in SCOPE_KEYS}
    counts = counts_of(scope)
    out["counts"] = counts
    out["truncated"] = [k for k in SCOPE_KEYS if counts[k] > len(out[k])]
    return out
ROLE_NAMES = ("commander", "comms_lead", "scribe", "responder")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIn(Strict):
    title: NonBlank = Field(min_length=1, max_length=500)
    type: str
    severity: Literal["P0", "P1", "P2", "P3"] | None = None
    signal: str | None = None
    summary: str | None = Field(None, max_length=20000)
    apps: list[str] = Field(default_factory=list)
    tenants: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    prompt_versions: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    sessions: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    call_ids: list[str] = Field(default_factory=list, max_length=10000)
    drill: bool = False  # a tabletop or hand-run drill: kept apart like the drill runner's incidents


class MoveIn(Strict):
    reason: str | None = Field(None, max_length=5000)


class AssignIn(Strict):
    role: Literal["commander", "comms_lead", "scribe", "responder"]
    who: NonBlank = Field(min_length=1, max_length=200)
    remove: bool = False  # responders only: take someone off the list
    reason: str | None = Field(None, max_length=5000)


class RetypeIn(Strict):
    type: str = Field(min_length=1, max_length=40)
    reason: NonBlank = Field(min_length=1, max_length=5000)
    severity: Literal["P0", "P1", "P2", "P3"] | None = None


class SeverityIn(Strict):
    severity: Literal["P0", "P1", "P2", "P3"]
    reason: NonBlank = Field(min_length=1, max_length=5000)


class NoteIn(Strict):
    text: NonBlank = Field(min_length=1, max_length=20000)
    kind: Literal["note", "decision", "hypothesis", "action"] = "note"


class LinkIn(Strict):
    call_ids: list[str] = Field(min_length=1, max_length=10000)


class LinkIncidentIn(Strict):
    other: str = Field(min_length=1, max_length=40)
    reason: str | None = Field(None, max_length=5000)


class MergeIn(Strict):
    into: str = Field(min_length=1, max_length=40)
    reason: NonBlank = Field(min_length=1, max_length=5000)


class SnapshotIn(Strict):
    reason: NonBlank = Field("manual", min_length=1, max_length=5000)


def _t(value: datetime | None) -> str | None:
    return stamp(value) if value else None


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if end else None


def incident_json(inc: Incident, linked_calls: list[str], related: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    t = TYPES.get(inc.type)
    roles = inc.roles or {}
    scope = public_scope(inc.scope)
    return {
        "id": inc.id, "title": inc.title, "summary": inc.summary, "type": inc.type,
        "severity": inc.severity, "state": inc.state, "commander": inc.commander,
        "detected_at": _t(inc.detected_at), "acknowledged_at": _t(inc.acknowledged_at),
        "contained_at": _t(inc.contained_at), "resolved_at": _t(inc.resolved_at),
        "closed_at": _t(inc.closed_at), "onset_at": _t(inc.onset_at), "apps": scope["apps"],
        "linked_calls": linked_calls,
        "owasp": list(t.owasp) if t else [], "atlas": list(t.atlas) if t else [],
        "nist": list(t.nist) if t else [], "playbook": inc.playbook, "source": inc.source,
        "dedup_key": inc.dedup_key,
        "roles": {"commander": inc.commander, "comms_lead": roles.get("comms_lead"),
                  "scribe": roles.get("scribe"), "responders": list(roles.get("responders", []))},
        "scope": scope,
        "sla": {"ack_due_at": _t(inc.ack_due_at), "contain_due_at": _t(inc.contain_due_at),
                "ack_breached_at": _t(inc.ack_breached_at),
                "contain_breached_at": _t(inc.contain_breached_at)},
        "metrics": {"time_to_acknowledge_s": _seconds(inc.detected_at, inc.acknowledged_at),
                    "time_to_contain_s": _seconds(inc.detected_at, inc.contained_at),
                    "time_to_resolve_s": _seconds(inc.detected_at, inc.resolved_at)},
        "timeline": {"entries": inc.timeline_seq, "head": inc.timeline_head},
        "drill": bool(inc.drill), "merged_into": inc.merged_into, "related": related or [],
    }
