"""The blast radius over time: affected calls per time step and tenant, from before the onset
through containment (the console's chart). The affected calls are the blast radius's own
(incidents.blast): the same signature, scope and window, counted by when they started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.db import utcnow
from fireline.incidents.blast import hits, signature, window
from fireline.incidents.models import Incident
from fireline.incidents.timeline import stamp

MAX_CALLS = 200_000
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
OTHER = "(other tenants)"
TOP_TENANTS = 8


def _aware(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def affected_calls(session: Session, inc: Incident) -> list[tuple[datetime, str | None]]:
    """(started_at, tenant) of the calls in the blast radius: the blast radius's own set (linked calls
    plus calls in scope and window that carry the signature), so the chart and the count agree."""
    sig = signature(session, inc)
    start, end, _ = window(session, inc, sig, place=False)
    hit = hits(inc, sig, start, end)
    rows = session.execute(select(hit.c.started_at, hit.c.tenant).order_by(hit.c.started_at).limit(MAX_CALLS))
    return [(_aware(at), tenant) for at, tenant in rows]


def blast_series(session: Session, inc: Incident, *, points: int = 60) -> dict[str, Any]:
    calls = affected_calls(session, inc)
    onset = _aware(inc.onset_at) if getattr(inc, "onset_at", None) else None
    first = calls[0][0] if calls else None
    start = min(x for x in (onset, first, _aware(inc.detected_at)) if x is not None)
    end_effect = _aware(inc.contained_at or inc.resolved_at or utcnow())
    last = calls[-1][0] if calls else end_effect
    span = max((max(end_effect, last) - start).total_seconds(), 1.0)
    # a margin on both sides, so the rise and the stop both show
    since = start - timedelta(seconds=span * 0.15)
    until = min(max(end_effect, last) + timedelta(seconds=span * 0.3),
                max(_aware(utcnow()), last + timedelta(seconds=1)))
    step = next((s for s in STEPS if (until - since).total_seconds() / s <= points), STEPS[-1])
    base = int(since.timestamp()) // step * step
    n = int((until.timestamp() - base) // step) + 1
    totals: dict[str, int] = {}
    for _, tenant in calls:
        key = tenant or "-"
        totals[key] = totals.get(key, 0) + 1
    top = sorted(totals, key=lambda t: (-totals[t], t))[:TOP_TENANTS]
    names = top + ([OTHER] if len(totals) > len(top) else [])
    counts = {name: [0] * n for name in names}
    for at, tenant in calls:
        i = int((at.timestamp() - base) // step)
        if 0 <= i < n:
            key = tenant or "-"
            counts[key if key in top else OTHER][i] += 1
    times = [datetime.fromtimestamp(base + i * step, UTC) for i in range(n)]
    return {"incident_id": inc.id, "step_seconds": step, "since": stamp(times[0]), "until": stamp(times[-1]),
            "times": [stamp(t) for t in times], "tenants": [{"tenant": name, "calls": counts[name],
                                                             "total": sum(counts[name])} for name in names],
            "calls": len(calls), "truncated": len(calls) >= MAX_CALLS,
            "markers": {"onset": stamp(onset) if onset else None, "first_occurrence": stamp(first) if first else None,
                        "detected_at": stamp(inc.detected_at),
                        "contained_at": stamp(inc.contained_at) if inc.contained_at else None,
                        "resolved_at": stamp(inc.resolved_at) if inc.resolved_at else None}}
