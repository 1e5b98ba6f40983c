"""Blast radius: the calls that carry the incident's effect, from its onset on.

The signature is read off the incident: the (detector, kind) pairs of its linked calls' findings
(minus `pii_input`: what users type about themselves is not an effect), what the incident is
about (its scope limits: the apps, and tenants, models or prompt versions only where the alert
was limited to them; an app-wide leak reaches every tenant), and the window from the onset to
resolution (or now). The onset comes from one place, `onset()`: the one the
monitor's change-point test stored on the incident (detect.onset), else the change point placed
from the prompt log, else the first matching call, never earlier than the end of the incident it
repeats. Without any finding the signature is the scope plus the linked calls' status when they
all failed, from the first linked call on.

The blast radius is the linked calls plus the matching calls in the window; calls held by another
incident (the one this repeats) are never folded in. An incident without linked calls (an
external alert naming none) has an unknown blast radius: nothing is guessed from the app's whole
traffic, and the responder links the calls. Containment should end the effect:
`answered_after_containment` counts the calls of the blast radius started after it (answers the
containment did not stop; it should be 0). They stay in the blast radius: their users were reached.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.db import utcnow
from fireline.detect.onset import place_onset
from fireline.incidents.models import Incident, IncidentCall, IncidentLink
from fireline.incidents.sla import current_config
from fireline.incidents.timeline import stamp

NOT_SIGNATURE = ("pii_input",)
PII_DETECTOR = "pii"
PII_EXCLUDED = ("pii_input",)
MAX_LISTED = 100_000


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _aware(value: Any) -> datetime | None:
    """SQLite hands back a CTE's min() as text, naive."""
    at = _parse(value)
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def repeats_end(session: Session, inc: Incident) -> datetime | None:
    """When the incident this one repeats was contained (else resolved): the earliest a repeat's
    effect can start, so its calls are never folded in."""
    previous = session.scalar(select(IncidentLink.other_id).where(
        IncidentLink.incident_id == inc.id, IncidentLink.kind == "repeat"))
    if previous is None:
        return None
    old = session.get(Incident, previous)
    return (old.contained_at or old.resolved_at or old.closed_at) if old is not None else None


def signature(session: Session, inc: Incident) -> dict[str, Any]:
    """What a call must have to carry the incident's effect, and the search window before onset."""
    linked = select(IncidentCall.call_id).where(IncidentCall.incident_id == inc.id)
    pairs = session.execute(select(CallFinding.detector, CallFinding.kind).where(
        CallFinding.call_id.in_(linked), CallFinding.kind.not_in(NOT_SIGNATURE)).distinct()).all()
    facts = session.execute(select(func.min(Call.started_at), func.count(), func.count(distinct(Call.status)),
                                   func.min(Call.status)).where(Call.id.in_(linked))).one()
    first_linked, n_linked, n_status, status = facts
    scope = inc.scope or {}
    limits = scope.get("limits")
    about = limits if isinstance(limits, dict) else scope  # incidents from before limits: their scope
    apps = list(about.get("apps") or scope.get("apps") or [])
    if not apps:
        apps = list(session.scalars(select(Call.app).where(Call.id.in_(linked)).distinct()))
    lookback = float((current_config().section("blast_radius") or {}).get("lookback_days", 30))
    since = inc.detected_at - timedelta(days=lookback)
    floor = repeats_end(session, inc)
    if floor is not None:
        since = max(since, floor)
    if not pairs and first_linked is not None:
        since = max(since, _aware(first_linked) or since)
    return {"findings": sorted([list(p) for p in pairs]), "apps": apps,
            "tenants": list(about.get("tenants") or []), "models": list(about.get("models") or []),
            "prompt_versions": list(about.get("prompt_versions") or []),
            "status": status if (not pairs and n_linked and n_status == 1 and status != "ok") else None,
            "linked": int(n_linked), "since": since, "not_before": floor}


def onset(session: Session, inc: Incident, sig: dict[str, Any] | None = None, *,
          place: bool = True) -> tuple[datetime, dict[str, Any]]:
    """The incident's onset and how it was placed (the one place blast radius, what-changed and the
    post-mortem read it from): stored on the incident (the monitor's change-point test, or placed
    once before, see `ensure_onset`), else placed from the prompt log when `place` (a change-point
    test over the signature's rate: about a second per million calls in scope), else the first
    linked call, else detection; never before the end of the incident it repeats."""
    sig = sig or signature(session, inc)
    floor = sig.get("not_before")
    how: dict[str, Any] | None = None
    at: datetime | None = None
    if inc.onset_at is not None:
        at, how = inc.onset_at, dict(inc.onset or {"method": "stored"})
    elif place and (sig["findings"] or sig["status"]):
        found = place_onset(session, since=sig["since"], until=inc.detected_at, apps=sig["apps"],
                            tenants=sig["tenants"], models=sig["models"], prompt_versions=sig["prompt_versions"],
                            findings=sig["findings"], status=sig["status"])
        if found is not None:
            at, how = _parse(found["at"]), found
    if at is None and sig["linked"]:
        first = _aware(session.scalar(select(func.min(Call.started_at)).where(Call.id.in_(
            select(IncidentCall.call_id).where(IncidentCall.incident_id == inc.id)))))
        if first is not None:
            at, how = first, {"method": "first_linked_call"}
    if at is None:
        at, how = inc.detected_at, {"method": "detected_at"}
    assert how is not None
    if floor is not None and at < floor:
        at, how = floor, {**how, "method": "end_of_repeated_incident", "placed": how.get("method")}
    return min(at, inc.detected_at), how


def ensure_onset(session: Session, inc: Incident) -> bool:
    """Place the onset from the prompt log once and store it on the incident (the caller's write
    transaction), so later reads of the blast radius do not test the log again. True if stored."""
    if inc.onset_at is not None:
        return False
    sig = signature(session, inc)
    if not sig["linked"]:
        return False  # unknown: nothing to place from
    at, how = onset(session, inc, sig)
    inc.onset_at, inc.onset = at, {**how, "at": stamp(at)}
    return True


def matching(sig: dict[str, Any], since: datetime, until: datetime | None) -> Select[Any]:
    """Ids of the calls in scope and window that carry the signature."""
    f, c = CallFinding, Call
    if sig["findings"]:
        conds: list[ColumnElement[bool]] = [or_(*[and_(f.detector == d, f.kind == k) for d, k in sig["findings"]]),
                                            f.started_at >= since]
        if until is not None:
            conds.append(f.started_at < until)
        if sig["apps"]:
            conds.append(f.app.in_(sig["apps"]))
        if sig["tenants"]:
            conds.append(f.tenant.in_(sig["tenants"]))
        stmt = select(f.call_id.label("id")).where(*conds)
        if sig["models"] or sig["prompt_versions"]:
            stmt = stmt.join(c, c.id == f.call_id)
    else:
        conds = [c.started_at >= since]
        if until is not None:
            conds.append(c.started_at < until)
        if sig["apps"]:
            conds.append(c.app.in_(sig["apps"]))
        if sig["tenants"]:
            conds.append(c.tenant.in_(sig["tenants"]))
        if sig["status"]:
            conds.append(c.status == sig["status"])
        stmt = select(c.id.label("id")).where(*conds)
    if sig["models"]:
        stmt = stmt.where(or_(c.model.in_(sig["models"]), c.model_resolved.in_(sig["models"])))
    if sig["prompt_versions"]:
        stmt = stmt.where(c.prompt_version.in_(sig["prompt_versions"]))
    return stmt


def _held_elsewhere(inc: Incident) -> Select[Any]:
    return select(IncidentCall.call_id).where(IncidentCall.incident_id != inc.id)


def window(session: Session, inc: Incident, sig: dict[str, Any], since: datetime | None = None,
           until: datetime | None = None, place: bool = True) -> tuple[datetime, datetime, dict[str, Any]]:
    at, how = onset(session, inc, sig, place=place)
    start = since or at
    end = until or inc.resolved_at or inc.closed_at or utcnow()
    return start, end, how


def hits(inc: Incident, sig: dict[str, Any], start: datetime, end: datetime) -> Any:
    """The blast radius as a CTE of calls: linked calls plus matching calls no other incident holds."""
    linked = select(IncidentCall.call_id.label("id")).where(IncidentCall.incident_id == inc.id)
    column = CallFinding.call_id if sig["findings"] else Call.id
    matched = matching(sig, start, end).where(column.not_in(_held_elsewhere(inc)))
    ids = union(linked, matched).subquery("ids")
    c = Call
    return (select(c.id, c.user_pseudonym, c.session_id, c.tenant, c.started_at)
            .join(ids, ids.c.id == c.id).cte("hit"))


def blast_radius(session: Session, inc: Incident, *, since: datetime | None = None,
                 until: datetime | None = None, place: bool = True) -> dict[str, Any]:
    """`place=False`: never test the log for an onset (the incident's stored one, else its first
    linked call): what comms reads on every incident event."""
    sig = signature(session, inc)
    start, end, how = window(session, inc, sig, since, until, place)
    base: dict[str, Any] = {
        "incident_id": inc.id, "detected_at": stamp(inc.detected_at),
        "onset": stamp(start), "onset_method": how.get("method"), "until": stamp(end),
        "contained_at": stamp(inc.contained_at) if inc.contained_at else None,
        "signature": {**{k: v for k, v in sig.items() if k not in ("since", "not_before", "linked")},
                      "since": stamp(start), "until": stamp(end)},
        "linked_calls": sig["linked"],
        # Declared policies in the signature, by name (findings policy:<name>).
        "policies": sorted({d.removeprefix("policy:") for d, _ in sig["findings"] if d.startswith("policy:")})}
    if not sig["linked"]:
        return {**base, "status": "unknown", "users": None, "sessions": None, "tenants": None, "calls": None,
                "first_occurrence": None, "lead_time_s": None, "pii": {}, "answered_after_containment": None,
                "reason": "no calls are linked to this incident: link the affected calls "
                          "(POST /api/v1/incidents/{id}/calls) to measure who it reached"}
    hit = hits(inc, sig, start, end)
    row = session.execute(select(func.count(), func.count(distinct(hit.c.user_pseudonym)),
                                 func.count(distinct(hit.c.session_id)), func.count(distinct(hit.c.tenant)),
                                 func.min(hit.c.started_at))).one()
    calls, users, sessions, tenants, first = row
    first_at = _aware(first)
    f = CallFinding
    pii_rows = session.execute(select(f.entity, func.count()).join(hit, hit.c.id == f.call_id).where(
        f.detector == PII_DETECTOR, f.kind.not_in(PII_EXCLUDED), f.entity.is_not(None)).group_by(f.entity))
    pii = {str(e): int(n) for e, n in sorted(pii_rows, key=lambda r: (-r[1], str(r[0])))}
    after = None
    if inc.contained_at is not None:
        after = int(session.scalar(select(func.count()).select_from(hit).where(
            hit.c.started_at >= inc.contained_at)) or 0)
    return {**base, "status": "measured", "users": int(users), "sessions": int(sessions), "tenants": int(tenants),
            "calls": int(calls), "first_occurrence": stamp(first_at) if first_at else None,
            "lead_time_s": round((inc.detected_at - first_at).total_seconds(), 3) if first_at else None,
            "pii": pii, "answered_after_containment": after}


def affected(session: Session, inc: Incident, *, limit: int = MAX_LISTED) -> dict[str, Any]:
    """Who to notify: the distinct user pseudonyms, sessions and tenants of the blast radius, and
    its call ids (responder only; the caller records the read)."""
    sig = signature(session, inc)
    start, end, _ = window(session, inc, sig)
    if not sig["linked"]:
        return {"status": "unknown", "users": [], "sessions": [], "tenants": [], "calls": []}
    hit = hits(inc, sig, start, end)

    def values(col: Any) -> list[str]:
        return [str(v) for v in session.scalars(select(col).where(col.is_not(None)).distinct()
                                                .order_by(col).limit(limit))]
    return {"status": "measured", "users": values(hit.c.user_pseudonym), "sessions": values(hit.c.session_id),
            "tenants": values(hit.c.tenant), "calls": values(hit.c.id)}
