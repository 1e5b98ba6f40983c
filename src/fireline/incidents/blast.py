"""Blast radius: who and what the incident's signature reaches in the prompt log.

The signature is read off the incident: the (detector, kind) pairs of its linked calls'
findings (minus `pii_input`: what users type about themselves is not an effect), its scope
(apps, tenants, models, prompt versions when set) and a window from `lookback_days` before
detection (config section `blast_radius`, default 30) to resolution or now. A matching call
is one in the window and scope with a finding of the signature. Without any finding the
signature is the scope alone (plus the linked calls' status when they all failed), from the
first linked call on. The first occurrence is the earliest matching call: it may predate
detection. PII counts are the `pii` detector's findings on matching calls, by entity.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.db import utcnow
from fireline.incidents.models import Incident, IncidentCall
from fireline.incidents.sla import current_config
from fireline.incidents.timeline import stamp

NOT_SIGNATURE = ("pii_input",)
PII_DETECTOR = "pii"
PII_EXCLUDED = ("pii_input",)


def signature(session: Session, inc: Incident) -> dict[str, Any]:
    linked = select(IncidentCall.call_id).where(IncidentCall.incident_id == inc.id)
    pairs = session.execute(select(CallFinding.detector, CallFinding.kind).where(
        CallFinding.call_id.in_(linked), CallFinding.kind.not_in(NOT_SIGNATURE)).distinct()).all()
    facts = session.execute(select(func.min(Call.started_at), func.count(), func.count(distinct(Call.status)),
                                   func.min(Call.status), func.count(distinct(Call.app)))
                            .where(Call.id.in_(linked))).one()
    first_linked, n_linked, n_status, status, _ = facts
    scope = inc.scope or {}
    apps = list(scope.get("apps", []))
    if not apps:
        apps = list(session.scalars(select(Call.app).where(Call.id.in_(linked)).distinct()))
    lookback = float((current_config().section("blast_radius") or {}).get("lookback_days", 30))
    since = inc.detected_at - timedelta(days=lookback)
    if not pairs:
        since = first_linked or inc.detected_at
    return {"findings": sorted([list(p) for p in pairs]), "apps": apps,
            "tenants": list(scope.get("tenants", [])), "models": list(scope.get("models", [])),
            "prompt_versions": list(scope.get("prompt_versions", [])),
            "status": status if (not pairs and n_linked and n_status == 1 and status != "ok") else None,
            "since": since, "until": inc.resolved_at or inc.closed_at or utcnow()}


def blast_radius(session: Session, inc: Incident, *, since: datetime | None = None,
                 until: datetime | None = None) -> dict[str, Any]:
    sig = signature(session, inc)
    if since:
        sig["since"] = since
    if until:
        sig["until"] = until
    f, c = CallFinding, Call
    call_conds: list[ColumnElement[bool]] = []
    if sig["models"]:
        call_conds.append(or_(c.model.in_(sig["models"]), c.model_resolved.in_(sig["models"])))
    if sig["prompt_versions"]:
        call_conds.append(c.prompt_version.in_(sig["prompt_versions"]))
    if sig["findings"]:
        conds: list[ColumnElement[bool]] = [
            or_(*[and_(f.detector == d, f.kind == k) for d, k in sig["findings"]]),
            f.started_at >= sig["since"], f.started_at < sig["until"]]
        if sig["apps"]:
            conds.append(f.app.in_(sig["apps"]))
        if sig["tenants"]:
            conds.append(f.tenant.in_(sig["tenants"]))
        matched = select(f.call_id.label("id")).where(*conds).distinct().subquery("matched")
        hit = (select(c.id, c.user_pseudonym, c.session_id, c.tenant, c.started_at)
               .join(matched, matched.c.id == c.id).where(*call_conds).cte("hit"))
    else:
        conds = [c.started_at >= sig["since"], c.started_at < sig["until"], *call_conds]
        if sig["apps"]:
            conds.append(c.app.in_(sig["apps"]))
        if sig["tenants"]:
            conds.append(c.tenant.in_(sig["tenants"]))
        if sig["status"]:
            conds.append(c.status == sig["status"])
        hit = select(c.id, c.user_pseudonym, c.session_id, c.tenant, c.started_at).where(*conds).cte("hit")
    row = session.execute(select(func.count(), func.count(distinct(hit.c.user_pseudonym)),
                                 func.count(distinct(hit.c.session_id)), func.count(distinct(hit.c.tenant)),
                                 func.min(hit.c.started_at))).one()
    calls, users, sessions, tenants, first = row
    if isinstance(first, str):  # SQLite hands a CTE's min() back as text
        first = datetime.fromisoformat(first)
    pii_rows = session.execute(select(f.entity, func.count()).join(hit, hit.c.id == f.call_id).where(
        f.detector == PII_DETECTOR, f.kind.not_in(PII_EXCLUDED), f.entity.is_not(None)).group_by(f.entity))
    pii = {str(e): int(n) for e, n in sorted(pii_rows, key=lambda r: (-r[1], str(r[0])))}
    first_at = first.replace(tzinfo=inc.detected_at.tzinfo) if first and first.tzinfo is None else first
    return {
        "incident_id": inc.id, "users": int(users), "sessions": int(sessions), "tenants": int(tenants),
        "calls": int(calls), "first_occurrence": stamp(first_at) if first_at else None,
        "detected_at": stamp(inc.detected_at),
        "lead_time_s": round((inc.detected_at - first_at).total_seconds(), 3) if first_at else None,
        "pii": pii,
        # Declared policies in the signature, by name (findings policy:<name>).
        "policies": sorted({d.removeprefix("policy:") for d, _ in sig["findings"] if d.startswith("policy:")}),
        "signature": {**{k: v for k, v in sig.items() if k not in ("since", "until")},
                      "since": stamp(sig["since"]), "until": stamp(sig["until"])},
    }
