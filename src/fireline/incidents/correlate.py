"""Which incident an alert is about: one event, one incident.

An alert joins an open incident of the same kind (drill or real) when
1. its dedup key is one of the incident's (the monitor firing again, or passing on new calls),
2. it names a call the incident holds (two detectors on the same answers: a canary token and the
   personal data beside it; a jailbreak's injection marker and its harmful answer), or
3. it is of the incident's family (its type; a declared policy's alerts: that policy) on one of
   its apps and, when both are limited to tenants (a monitor grouped by tenant, an external alert
   naming tenants), on one of them.
Keys of the third kind are `incident_dedup` rows too ("corr:<family>:<app>"), so two such alerts
racing open one incident, exactly as two alerts with one dedup key do.

Drill alerts (every call they name is a drill's) only ever join drill incidents, under keys of
their own ("drill:..."), so a real alert never lands on a drill and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call
from fireline.config import DRILL_APP
from fireline.incidents.lifecycle import ACTIVE
from fireline.incidents.models import Incident, IncidentCall, IncidentDedup
from fireline.signals import Alert

FAMILIES = {"policy_bypass": "prompt_injection"}  # types that are one family of events
GROUP_SCOPE = {"app": "apps", "tenant": "tenants", "model": "models", "prompt_version": "prompt_versions",
               "tool": "tools"}
DRILL_PREFIX = "drill:"
DRILL_COHORT = "drill-"


def family(type_name: str) -> str:
    return FAMILIES.get(type_name, type_name)


def alert_scope(alert: Alert) -> dict[str, Iterable[str]]:
    scope_by = alert.details.get("scope_by")
    return {"apps": alert.apps, "tenants": alert.tenants, "models": alert.models,
            "prompt_versions": alert.prompt_versions, "tools": alert.tools, "sessions": alert.sessions,
            "keys": alert.keys, "users": alert.users, "scope_by": (scope_by,) if isinstance(scope_by, str) else ()}


LIMIT_KEYS = ("apps", "tenants", "models", "prompt_versions", "tools")  # what a monitor group or alert limits


def limits(alert: Alert) -> dict[str, list[str]]:
    """What the alert is about, as opposed to what it happened to see: a monitor's group keys
    (an app-wide monitor is about the app, whichever tenants its calls came from); everything an
    external alert names."""
    if alert.source == "monitor" and alert.details.get("group") is not None:
        out: dict[str, list[str]] = {}
        for part in str(alert.details["group"]).split(","):
            key, _, value = part.partition("=")
            name = GROUP_SCOPE.get(key)
            if name and value and value != "-":
                out.setdefault(name, []).append(value)
        if "apps" not in out and alert.apps:
            out["apps"] = sorted(set(alert.apps))
        return out
    scope = alert_scope(alert)
    return {k: sorted(set(scope[k])) for k in LIMIT_KEYS if scope.get(k)}


def alert_family(alert: Alert, type_name: str) -> str:
    """The family an alert correlates in: its type's, except a declared policy's alerts, which are
    about that policy (two policies broken on one app are two concerns, with two owners)."""
    signal = alert.signal or ""
    return signal if signal.startswith("policy:") else family(type_name)


def keys(alert: Alert, drill: bool, type_name: str) -> tuple[str, list[str]]:
    """The alert's own dedup key and its correlation keys, one per app."""
    prefix = DRILL_PREFIX if drill else ""
    own = prefix + alert.dedup_key
    fam = alert_family(alert, type_name)
    return own, [f"{prefix}corr:{fam}:{app}" for app in sorted(set(alert.apps)) if app]


def is_drill_call(app: str | None, metadata: dict[str, Any]) -> bool:
    """A call of a fire drill: on the drill app, from a drill cohort, or answered by a drill's fault."""
    cohort = metadata.get("cohort")
    return app == DRILL_APP or bool(metadata.get("injected")) or (
        isinstance(cohort, str) and cohort.startswith(DRILL_COHORT))


_APP_CONTENT = select(Call.id, Call.app, Call.content).where(Call.id.in_(bindparam("ids", expanding=True)))
Stored = dict[str, tuple[str, str]]  # call id -> (app, content JSON)


def stored_calls(session: Session, call_ids: Iterable[str]) -> Stored:
    """App and content of these calls (one read per 1,000), for is_drill on several alerts."""
    ids = list(dict.fromkeys(call_ids))
    out: Stored = {}
    for i in range(0, len(ids), 1000):
        out.update((cid, (app, content)) for cid, app, content in session.execute(_APP_CONTENT,
                                                                                 {"ids": ids[i:i + 1000]}))
    return out


@dataclass(frozen=True, slots=True)
class Prefetched:
    """What decides harm and drill for several alerts, read once (incidents.fired)."""

    harms: dict[str, set[tuple[str, str]]]  # harm.harm_findings
    stored: Stored  # stored_calls


def _drill_row(app: str, content: str) -> bool:
    try:
        metadata = orjson.loads(content).get("metadata") or {}
    except (orjson.JSONDecodeError, AttributeError):
        metadata = {}
    return is_drill_call(app, metadata if isinstance(metadata, dict) else {})


def is_drill(session: Session, alert: Alert, stored: Stored | None = None) -> bool:
    """Every call the alert names is a drill's (an alert without calls: every app it names is the
    drill app). A real call among them makes it real: on doubt, people are paged. `stored`: what
    stored_calls read already for these calls (and maybe others)."""
    if not alert.call_ids:
        return bool(alert.apps) and all(a == DRILL_APP for a in alert.apps)
    if stored is not None:
        rows = [stored[c] for c in dict.fromkeys(alert.call_ids) if c in stored]
        return bool(rows) and all(_drill_row(app, content) for app, content in rows)
    # Row by row: the first real call decides (its content alone is read and parsed).
    result = session.execute(_APP_CONTENT, {"ids": list(alert.call_ids)})
    seen = False
    try:
        for _, app, content in result:
            seen = True
            if not _drill_row(app, content):
                return False
    finally:
        result.close()
    return seen


# The incident holding a key, locked and read afresh, in one statement (an open incident's key is
# looked up for every alert of every batch).
_BY_KEY = (select(Incident).join(IncidentDedup, IncidentDedup.incident_id == Incident.id)
           .where(IncidentDedup.dedup_key == bindparam("key")).with_for_update(of=Incident)
           .execution_options(populate_existing=True))


def active_for_key(session: Session, dedup_key: str) -> Incident | None:
    """The active incident holding a key, locked; a stale key (its incident is over, or gone) is freed."""
    inc = session.scalars(_BY_KEY, {"key": dedup_key}).first()
    if inc is not None and inc.state in ACTIVE:
        return inc
    if inc is None:
        # Each statement reads its own snapshot (READ COMMITTED): a racing alert may have committed
        # the key and its incident since the join above. Read both again before calling it stale.
        row = session.get(IncidentDedup, dedup_key, populate_existing=True)
        if row is None:
            return None
        inc = session.get(Incident, row.incident_id, with_for_update=True, populate_existing=True)
        if inc is not None and inc.state in ACTIVE:
            return inc
    session.execute(delete(IncidentDedup).where(IncidentDedup.dedup_key == dedup_key))
    session.flush()
    return None


def compatible(inc: Incident, scope_limits: dict[str, list[str]]) -> bool:
    """False when both are limited to tenants and share none (two tenants' own incidents)."""
    mine = set(((inc.scope or {}).get("limits") or {}).get("tenants") or [])
    theirs = set(scope_limits.get("tenants") or [])
    return not (mine and theirs and not mine & theirs)


def by_calls(session: Session, call_ids: Iterable[str], drill: bool) -> Incident | None:
    ids = list(call_ids)
    if not ids:
        return None
    found = session.scalar(select(Incident.id).join(IncidentCall, IncidentCall.incident_id == Incident.id)
                           .where(IncidentCall.call_id.in_(ids), Incident.state.in_(ACTIVE),
                                  Incident.drill.is_(drill))
                           .order_by(Incident.detected_at, Incident.id).limit(1))
    if found is None:
        return None
    return session.get(Incident, found, with_for_update=True, populate_existing=True)


def find(session: Session, alert: Alert, drill: bool, own: str, corr: list[str]
         ) -> tuple[tuple[Incident, str] | None, list[str]]:
    """The open incident this alert is about and why ("key", "calls" or "family"), or None; and
    the keys a new incident would claim: its own and the correlation keys no open incident holds
    (stale ones are freed here). A key claimed meanwhile by a racing alert makes the new
    incident's insert fail (IntegrityError): the retry then finds that incident."""
    inc = active_for_key(session, own)
    if inc is not None:
        return (inc, "key"), []
    inc = by_calls(session, alert.call_ids, drill)
    if inc is not None:
        return (inc, "calls"), []
    scope_limits = limits(alert)
    claim = [own]
    for key in corr:
        inc = active_for_key(session, key)
        if inc is None:
            claim.append(key)
        elif compatible(inc, scope_limits):
            # The incident may have been opened by an alert with our own key meanwhile (a race
            # between the two reads): then it is the same alert again, not a related one.
            own_row = session.get(IncidentDedup, own, populate_existing=True)
            return (inc, "key" if own_row is not None and own_row.incident_id == inc.id else "family"), []
    return None, claim
