"""An incident's scope, bounded: what it touched (apps, tenants, models, prompt versions, tools,
sessions, API key ids, user pseudonyms), however long the monitor behind it fires.

The incident row keeps per dimension a sample of at most SAMPLE values (the first ones seen, in
order) and `counts`: the exact number of distinct values. While a dimension has at most SAMPLE
values the sample is the whole set and decides alone what is new. The first value past it spills
the set into `incident_scope_values` (one row per incident x dimension x value); from then on a
value is new when its row is (INSERT ... ON CONFLICT DO NOTHING RETURNING). An alert therefore
costs O(its own values), the row never holds more than SAMPLE values a dimension, and the counts
stay exact. The API shows the sample lists as before, plus `counts` and `truncated` (the
dimensions whose list is a sample).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, delete, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call
from fireline.db import insert_for
from fireline.incidents.models import Incident, IncidentCall, IncidentScopeValue
from fireline.incidents.schemas import SCOPE_KEYS, counts_of

SAMPLE = 100  # values of one dimension kept on the incident row
MAX_KEYS = 100  # dedup keys kept (the most recent), to recognise a repeat
VALUE_CHARS = 500  # the stored row's length; longer values are told apart by their first 500 characters


def _spill(session: Session, incident_id: str, dim: str, values: Iterable[str]) -> list[str]:
    """Store these values of the dimension; answers those that were not stored yet. A statement on
    the session's connection, not through the ORM, which would first flush the session: each alert's
    incident row again and again within one batch of updates (its rows name the incident by id
    only, so a new incident need not be written first)."""
    rows = [{"incident_id": incident_id, "dim": dim, "value": v[:VALUE_CHARS]}
            for v in dict.fromkeys(v[:VALUE_CHARS] for v in values)]
    if not rows:
        return []
    insert = insert_for(session.get_bind().dialect.name)
    stmt = insert(IncidentScopeValue).on_conflict_do_nothing().returning(IncidentScopeValue.value)
    return list(session.connection().execute(stmt, rows).scalars().all())


def stored_values(session: Session, incident_id: str, dim: str) -> list[str]:
    return list(session.scalars(select(IncidentScopeValue.value).where(
        IncidentScopeValue.incident_id == incident_id, IncidentScopeValue.dim == dim)))


def _add(session: Session, inc: Incident, key: str, sample: list[str], count: int,
         values: list[str]) -> tuple[list[str], int, list[str]]:
    """(the new sample, the new count, the values that were new) for one dimension."""
    have = set(sample)
    fresh = [v for v in dict.fromkeys(values) if v and v not in have]
    if not fresh:
        return sample, count, []
    spilled = count > len(sample)
    if not spilled and len(sample) + len(fresh) <= SAMPLE:  # the sample is the whole set: it decides
        return sample + fresh, count + len(fresh), fresh
    if not spilled:  # the whole set so far moves to the table (an old incident's may be longer than SAMPLE)
        _spill(session, inc.id, key, sample)
    stored = set(_spill(session, inc.id, key, fresh))
    new = [v for v in fresh if v[:VALUE_CHARS] in stored]
    room = max(SAMPLE - len(sample), 0)
    return (sample + new[:room])[:SAMPLE], count + len(new), new


def merge_scope(session: Session, inc: Incident, extra: dict[str, Any],
                source: Incident | None = None) -> dict[str, list[str]]:
    """Add the scope values in `extra` (apps, tenants, models, prompt versions, tools, sessions, keys,
    users, scope_by: what the incident touched) to the incident; returns what was new. `source`: the
    incident whose scope `extra` is (a merge), whose spilled values come along. `extra["limits"]`
    (what the incident is about) narrows nothing: a dimension limited on one side only becomes
    unlimited, and `extra["dedup_keys"]` adds the dedup keys the incident answered for (to recognise
    a repeat). The incident's id must be set (it need not be flushed)."""
    old = inc.scope or {}
    counts = counts_of(old)
    scope: dict[str, Any] = {}
    added: dict[str, list[str]] = {}
    theirs_counts = counts_of(extra) if source is not None else {}
    for key in SCOPE_KEYS:
        sample = list(old.get(key, []))
        values = [v for v in extra.get(key, ()) if v]
        if source is not None and theirs_counts[key] > len(values):
            values += stored_values(session, source.id, key)
        if values:
            sample, counts[key], new = _add(session, inc, key, sample, counts[key], values)
            if new:
                added[key] = new
        scope[key] = sample
    scope["counts"] = counts
    mine, theirs = old.get("limits"), extra.get("limits")
    if not old and isinstance(theirs, dict):  # a new incident: what its first alert is about
        scope["limits"] = dict(theirs)
    elif isinstance(mine, dict) and isinstance(theirs, dict):
        scope["limits"] = {k: sorted(set(mine[k]) | set(theirs[k])) for k in mine if k in theirs}
    elif isinstance(mine, dict) and "limits" not in extra:
        scope["limits"] = mine
    scope["dedup_keys"] = list(dict.fromkeys([*old.get("dedup_keys", []), *extra.get("dedup_keys", [])]))[-MAX_KEYS:]
    if added or scope != old:  # an alert that brings nothing new leaves the row as it is
        inc.scope = scope
        inc.apps = " ".join(scope["apps"])[:1000]
    return added


def on_subject_erased(session: Session, user_pseudonym: str, **_: Any) -> None:
    """An erased subject's pseudonym leaves the scope of every incident that holds none of their calls
    any more (an incident holding calls keeps them, and so its scope names whose they are, until the
    hold ends and the queued erasure runs). The count drops with it; a spilled dimension refills its
    sample from the stored set."""
    held = set(session.scalars(select(IncidentCall.incident_id).join(Call, Call.id == IncidentCall.call_id)
                               .where(Call.user_pseudonym == user_pseudonym)))
    spilled = set(session.scalars(select(IncidentScopeValue.incident_id).where(
        IncidentScopeValue.dim == "users", IncidentScopeValue.value == user_pseudonym)))
    listed = set(session.scalars(select(Incident.id).where(
        cast(Incident.scope, String).contains(user_pseudonym, autoescape=True))))
    for incident_id in sorted((spilled | listed) - held):
        inc = session.get(Incident, incident_id)
        if inc is None:
            continue
        scope = dict(inc.scope or {})
        listed_users = scope.get("users") or []
        sample = [u for u in listed_users if u != user_pseudonym]
        counts = counts_of(scope)
        in_table = counts["users"] > len(listed_users)  # the whole set lives in incident_scope_values
        gone = len(sample) < len(listed_users)
        if incident_id in spilled:
            session.execute(delete(IncidentScopeValue).where(
                IncidentScopeValue.incident_id == incident_id, IncidentScopeValue.dim == "users",
                IncidentScopeValue.value == user_pseudonym))
            gone = True
        if not gone:
            continue
        counts["users"] = max(counts["users"] - 1, len(sample))
        if in_table and len(sample) < SAMPLE:
            have = set(sample)
            sample += [v for v in stored_values(session, incident_id, "users") if v not in have][:SAMPLE - len(sample)]
        scope["users"] = sample
        scope["counts"] = counts
        inc.scope = scope
