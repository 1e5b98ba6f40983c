"""Onset: where a rate changed, found with a change-point test on a series of (matches, calls).

An incident's onset is the start of the rise that led to it, not the earliest matching call:
a 1% background of matching calls (a refusal here and there, the odd garbled answer) would put
the earliest call days before anything changed. The test is the binomial likelihood-ratio
change-point scan, applied recursively (binary segmentation):

1. Bin the series (minute buckets summed into at most `MAX_BINS` bins).
2. For each split t, the log-likelihood ratio of "one rate before t, another after" against
   "one rate throughout"; the best split is a change point when 2*LLR >= `min_score` (default
   30, about p < 1e-7 for one fixed split: a scan over thousands of splits of stationary noise
   stays well under it) and the rates differ by at least `min_ratio`.
3. Recurse into both halves (depth-limited), giving segments with their rates.
4. The onset is the start of the earliest segment of the rising staircase that ends in the last
   segment: walking back from the last segment while the one before has a clearly lower rate
   (a drop, for `direction="down"`); each step before the last must differ from its neighbour
   with `STAIR_FACTOR` times the evidence on its own. So 0.8% then 16% on top of a 1% background puts the onset
   where 0.8% began, and stationary noise gives no change point (the caller falls back).

Pure functions over plain lists: the monitor engine runs it on its in-memory minute buckets
when an alert fires, and `place_onset` on a series read from the prompt log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from fireline.calls.models import Call, CallFinding
from fireline.detect.minutes import minute_of

MAX_BINS = 2000
MIN_SCORE = 20.0
MIN_RATIO = 1.25
MAX_DEPTH = 4
STAIR_FACTOR = 1.75  # the evidence an earlier step of a staircase needs, in units of min_score

Direction = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Segment:
    start: int  # first minute (inclusive)
    end: int  # last minute + 1
    matches: float
    calls: float

    @property
    def rate(self) -> float:
        return self.matches / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """The onset found: its minute, the rates before and after, and the test's evidence."""

    minute: int
    rate_before: float
    rate_after: float
    score: float  # 2 * log-likelihood ratio of the split that opened the staircase
    segments: tuple[Segment, ...] = field(default=())
    method: str = "binomial_lr_binary_segmentation"

    def as_dict(self) -> dict[str, object]:
        return {"minute": self.minute, "rate_before": round(self.rate_before, 6),
                "rate_after": round(self.rate_after, 6), "score": round(self.score, 2), "method": self.method,
                "segments": [{"start_minute": s.start, "end_minute": s.end, "rate": round(s.rate, 6),
                              "calls": s.calls} for s in self.segments]}


def _ll(x: float, n: float) -> float:
    """Binomial log-likelihood at the MLE rate x/n (0 log 0 = 0)."""
    if n <= 0 or x <= 0 or x >= n:
        return 0.0
    p = x / n
    return x * math.log(p) + (n - x) * math.log1p(-p)


def _step_score(a: Segment, b: Segment) -> float:
    """2*LLR of two adjacent segments having different rates rather than one."""
    return 2.0 * (_ll(a.matches, a.calls) + _ll(b.matches, b.calls) - _ll(a.matches + b.matches, a.calls + b.calls))


def binned(series: Sequence[tuple[int, float, float]], max_bins: int = MAX_BINS) -> list[tuple[int, float, float]]:
    """(minute, matches, calls) sorted and summed into bins of equal width (minutes), at most `max_bins`."""
    rows = sorted((int(m), float(x), float(n)) for m, x, n in series if n > 0 or x > 0)
    if not rows:
        return []
    lo, hi = rows[0][0], rows[-1][0]
    width = max(1, math.ceil((hi - lo + 1) / max_bins))
    out: list[list[float]] = []
    for m, x, n in rows:
        b = lo + (m - lo) // width * width
        if out and out[-1][0] == b:
            out[-1][1] += x
            out[-1][2] += n
        else:
            out.append([b, x, n])
    return [(int(b), x, n) for b, x, n in out]


def best_split(bins: Sequence[tuple[int, float, float]], i: int, j: int,
               min_calls: float = 20.0) -> tuple[int, float] | None:
    """The split k (i < k < j) of bins[i:j] maximising 2*LLR, with enough calls each side."""
    tx = sum(b[1] for b in bins[i:j])
    tn = sum(b[2] for b in bins[i:j])
    if tn < 2 * min_calls:
        return None
    whole = _ll(tx, tn)
    best: tuple[int, float] | None = None
    cx = cn = 0.0
    for k in range(i + 1, j):
        cx += bins[k - 1][1]
        cn += bins[k - 1][2]
        if cn < min_calls or tn - cn < min_calls:
            continue
        score = 2.0 * (_ll(cx, cn) + _ll(tx - cx, tn - cn) - whole)
        if best is None or score > best[1]:
            best = (k, score)
    return best


def segments(bins: Sequence[tuple[int, float, float]], *, min_score: float = MIN_SCORE,
             min_ratio: float = MIN_RATIO, max_depth: int = MAX_DEPTH,
             min_calls: float = 20.0) -> tuple[list[int], dict[int, float]]:
    """Binary segmentation: the bin indexes where significant changes are, and each one's score."""
    cuts: dict[int, float] = {}

    def rate(i: int, j: int) -> float:
        n = sum(b[2] for b in bins[i:j])
        return sum(b[1] for b in bins[i:j]) / n if n else 0.0

    def visit(i: int, j: int, depth: int) -> None:
        if depth > max_depth or j - i < 2:
            return
        found = best_split(bins, i, j, min_calls)
        if found is None or found[1] < min_score:
            return
        k, score = found
        before, after = rate(i, k), rate(k, j)
        lo, hi = min(before, after), max(before, after)
        if hi < min_ratio * lo or hi - lo <= 0:
            return
        cuts[k] = score
        visit(i, k, depth + 1)
        visit(k, j, depth + 1)

    visit(0, len(bins), 0)
    return sorted(cuts), cuts


def change_point(series: Sequence[tuple[int, float, float]], *, direction: Direction = "up",
                 min_score: float = MIN_SCORE, min_ratio: float = MIN_RATIO,
                 max_bins: int = MAX_BINS, min_calls: float = 20.0) -> ChangePoint | None:
    """The onset of the last sustained change in rate in `series` ((minute, matches, calls)),
    or None when the series holds no significant change in `direction`."""
    bins = binned(series, max_bins)
    if len(bins) < 2:
        return None
    cuts, scores = segments(bins, min_score=min_score, min_ratio=min_ratio, min_calls=min_calls)
    if not cuts:
        return None
    bounds = [0, *cuts, len(bins)]
    segs = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        segs.append(Segment(start=bins[a][0], end=bins[b - 1][0] + 1, matches=sum(x[1] for x in bins[a:b]),
                            calls=sum(x[2] for x in bins[a:b])))

    def worse(earlier: Segment, later: Segment) -> bool:
        if direction == "up":
            return later.rate >= min_ratio * earlier.rate and later.rate > earlier.rate
        return earlier.rate >= min_ratio * later.rate and earlier.rate > later.rate

    # The last rise needs only its cut's significance; every step further back must also stand on
    # its own against its neighbour, with `STAIR_FACTOR` times the evidence: a small wobble in
    # days of background noise is not the start of the staircase.
    # The last rise; what came after it may ease off (a partial recovery, or a cut in the noise of
    # the raised rate) and still be the same change, as long as it stays worse than where it rose
    # from. Back at that level (or with no rise at all), nothing is getting worse now.
    last = len(segs) - 1
    while last > 0 and not worse(segs[last - 1], segs[last]):
        last -= 1
    if last == 0 or any(not worse(segs[last - 1], s) for s in segs[last + 1:]):
        return None
    k = last
    while k > 0 and worse(segs[k - 1], segs[k]) and (
            k == last or _step_score(segs[k - 1], segs[k]) >= STAIR_FACTOR * min_score):
        k -= 1
    k += 1  # segs[k] is the first rise of the staircase, segs[k - 1] what it rose from
    first, before = segs[k], segs[k - 1]
    after_rate = sum(s.matches for s in segs[k:]) / max(sum(s.calls for s in segs[k:]), 1e-9)
    return ChangePoint(minute=first.start, rate_before=before.rate, rate_after=after_rate,
                       score=scores.get(bounds[k], 0.0), segments=tuple(segs))


# ---- from the prompt log ----

def _scope_conditions(since: datetime, until: datetime, apps: Sequence[str] = (), tenants: Sequence[str] = (),
                      models: Sequence[str] = (), prompt_versions: Sequence[str] = ()) -> list[Any]:
    conds: list[Any] = [Call.started_at >= since, Call.started_at < until]
    if apps:
        conds.append(Call.app.in_(list(apps)))
    if tenants:
        conds.append(Call.tenant.in_(list(tenants)))
    if models:
        conds.append(or_(Call.model.in_(list(models)), Call.model_resolved.in_(list(models))))
    if prompt_versions:
        conds.append(Call.prompt_version.in_(list(prompt_versions)))
    return conds


def _matching(since: datetime, until: datetime, findings: Sequence[Sequence[str]], status: str | None) -> Any:
    if findings:
        pairs = or_(*[and_(CallFinding.detector == d, CallFinding.kind == k) for d, k in findings])
        return Call.id.in_(select(CallFinding.call_id).where(pairs, CallFinding.started_at >= since,
                                                             CallFinding.started_at < until))
    return Call.status == status


def log_series(session: Session, *, since: datetime, until: datetime, findings: Sequence[Sequence[str]] = (),
               status: str | None = None, **scope: Any) -> list[tuple[int, float, float]]:
    """(minute, matching calls, calls) in scope (apps, tenants, models, prompt_versions) between since
    and until, with two grouped queries. A matching call has one of the (detector, kind) `findings`,
    or the `status` when no findings are given."""
    minute = minute_of(session.get_bind().dialect.name, Call.started_at)
    conds = _scope_conditions(since, until, **scope)
    calls: dict[Any, Any] = dict(session.execute(select(minute, func.count()).where(*conds).group_by(minute)).all())
    matched: dict[Any, Any] = {}
    if findings or status:
        match = _matching(since, until, findings, status)
        matched = dict(session.execute(select(minute, func.count()).where(*conds, match).group_by(minute)).all())
    return [(int(m), float(matched.get(m, 0)), float(n)) for m, n in calls.items()]


def place_onset(session: Session, *, since: datetime, until: datetime, direction: Direction = "up",
                findings: Sequence[Sequence[str]] = (), status: str | None = None,
                **scope: Any) -> dict[str, Any] | None:
    """The incident onset from the prompt log: the first matching call from the change point of the
    scope's matching-call rate on (see `log_series`), else the first matching call; None without any.
    The answer is what `Incident.onset` stores: {"at", "method", "rate_before", "rate_after", ...}."""
    if not findings and not status:
        return None
    series = log_series(session, since=since, until=until, findings=findings, status=status, **scope)
    cp = change_point(series, direction=direction)
    start = since
    out: dict[str, Any] = {"method": "first_matching_call"}
    if cp is not None:
        start = max(since, datetime.fromtimestamp(cp.minute * 60, UTC))
        out = {k: v for k, v in cp.as_dict().items() if k != "segments"}
    conds = _scope_conditions(start, until, **scope)
    first = session.scalar(select(func.min(Call.started_at)).where(*conds, _matching(start, until, findings, status)))
    if isinstance(first, str):
        first = datetime.fromisoformat(first)
    if first is None:
        return {"at": _iso(cp.minute), **out} if cp is not None else None
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return {"at": first.isoformat(), **out}


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()
