"""Which change caused it: markers ranked by closeness to onset and by what the rate did.

For every marker in the window, the incident's metric (the share of calls with the incident's
findings, of failed calls, or the mean answer length for a length incident) is measured on the
marker's app in the hours before and after it, and, for model and prompt markers, on the calls
served by the old and the new version. The score is

    log(lift) * exp(-|onset - marker| / TAU)

with lift the larger of after/before and new-version/old-version (1 when the metric did not
rise). A marker the rate did not follow scores 0 however close it is, and of two markers the
rate followed the nearer one wins. "After" ends at the app's next marker, so a change is not
credited with what the next one did.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.ingest.models import Change

TAU_S = 2 * 3600.0
SPAN = timedelta(hours=6)
EPS = 1e-3


class Metric:
    """The incident's rate (or mean) over calls matching some conditions."""

    def __init__(self, findings: list[list[str]], status: str | None, length: bool) -> None:
        self.findings, self.status, self.length = findings, status, length

    def measure(self, session: Session, conds: list[Any]) -> tuple[float, int]:
        if self.length:
            row = session.execute(select(func.avg(Call.output_tokens), func.count()).where(
                *conds, Call.output_tokens.is_not(None))).one()
            return float(row[0] or 0.0), int(row[1])
        total = int(session.scalar(select(func.count()).where(*conds)) or 0)
        if not total:
            return 0.0, 0
        hit: Any
        if self.findings:
            pairs = or_(*[and_(CallFinding.detector == d, CallFinding.kind == k) for d, k in self.findings])
            hit = Call.id.in_(select(CallFinding.call_id).where(pairs))
        elif self.status:
            hit = Call.status == self.status
        else:
            return 0.0, total
        return int(session.scalar(select(func.count()).where(*conds, hit)) or 0) / total, total


def _version_column(row: Change) -> Any:
    attribute = (row.details or {}).get("attribute")
    if row.kind == "model" and attribute != "system_fingerprint":
        return Call.model_resolved
    if row.kind == "prompt":
        return Call.system_prompt_sha256 if attribute == "system_prompt" else Call.prompt_version
    return None


def rank(session: Session, rows: list[Change], metric: Metric, onset: datetime,
         detected: datetime) -> list[dict[str, Any]]:
    """Scores per marker id: {"score", "rate_before", "rate_after", "per_version"}, highest first."""
    out: list[dict[str, Any]] = []
    for row in rows:
        app = [Call.app == row.app]
        # "After" stops at the app's next marker: a change is not credited with what the next one did.
        following = [r.at for r in rows if r.app == row.app and r.at > row.at]
        after_end = max(min(row.at + SPAN, detected, *following), row.at + timedelta(minutes=10))
        before, n_before = metric.measure(session, [*app, Call.started_at >= row.at - SPAN,
                                                    Call.started_at < row.at])
        after, n_after = metric.measure(session, [*app, Call.started_at >= row.at, Call.started_at < after_end])
        lift = (after + EPS) / (before + EPS) if n_before and n_after else 1.0
        per_version: dict[str, Any] | None = None
        col = _version_column(row)
        if col is not None and row.from_version and row.to_version:
            span = [*app, Call.started_at >= row.at - SPAN, Call.started_at < max(detected, after_end)]
            old, n_old = metric.measure(session, [*span, col == row.from_version])
            new, n_new = metric.measure(session, [*span, col == row.to_version])
            per_version = {"from": {"version": row.from_version, "value": round(old, 6), "calls": n_old},
                           "to": {"version": row.to_version, "value": round(new, 6), "calls": n_new}}
            if n_old and n_new:
                lift = max(lift, (new + EPS) / (old + EPS))
        closeness = math.exp(-abs((onset - row.at).total_seconds()) / TAU_S)
        score = math.log(max(lift, 1.0)) * closeness
        out.append({"id": row.id, "score": round(score, 4), "lift": round(lift, 3),
                    "value_before": round(before, 6), "value_after": round(after, 6), "per_version": per_version})
    out.sort(key=lambda r: -r["score"])
    return out
