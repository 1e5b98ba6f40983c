"""Firing: what a monitor hands over when a group fires, re-fires with new calls, or resolves.

`Engine` decides when a group fires; this builds the `Alert` it carries: the calls linked to it
(the most recent, or the largest for latency and cost, or those in the bins that carry a shift),
where the rate changed (`detect.onset`), and the values that made it fire.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fireline.detect import distribution
from fireline.detect.monitor import Monitor
from fireline.detect.monitor_defs import MonitorDef
from fireline.detect.onset import change_point
from fireline.detect.series import Hit, Series
from fireline.signals import Alert

MAX_LINKED = 100


@dataclass(slots=True)
class Fired:
    monitor: MonitorDef
    group: str
    alert: Alert
    resolved: bool = False
    before: tuple[str, datetime | None] = ("ok", None)  # the group's state and last firing before this
    update: bool = False  # new matching calls in a group that is firing already (not a new firing)


def linked(mon: Monitor, s: Series, lo: int) -> list[Hit]:
    hits = [h for h in s.hits if h.minute >= lo]
    hot = shifted_bins(mon, s)
    if hot is not None:
        hits = [h for h in hits if int(h.score) in hot]
    if mon.d.signal in ("latency", "cost"):
        hits.sort(key=lambda h: h.score, reverse=True)
    else:
        hits.reverse()  # most recent first
    seen: set[str] = set()
    out: list[Hit] = []
    for h in hits:
        if h.call_id not in seen:
            seen.add(h.call_id)
            out.append(h)
        if len(out) >= MAX_LINKED:
            break
    return out


def fresh(s: Series) -> list[Hit]:
    """The hits no alert of this group carried yet (newest last), marked as carried now."""
    n = min(s.hit_total - s.hits_emitted, len(s.hits))
    s.hits_emitted = s.hit_total
    return list(s.hits)[len(s.hits) - n:] if n > 0 else []


def shifted_bins(mon: Monitor, s: Series) -> set[int] | None:
    """For a distribution monitor, the bins that carry the shift (None for other monitors)."""
    if mon.d.signal != "distribution":
        return None
    numeric = mon.d.feature in ("output_tokens", "input_tokens")
    return distribution.hot_bins(s.window.bins, s.history.bins, numeric=numeric,
                                 down=mon.d.condition.op == "ratio_le")


def onset_of(mon: Monitor, s: Series, hits: list[Hit]) -> dict[str, Any] | None:
    """Where this group's rate changed (detect.onset), else the first hit of the window. A
    distribution's rate is the share of calls in the bins that carry the shift."""
    hot = shifted_bins(mon, s)
    series: list[tuple[int, float, float]] | None = None
    if hot is not None:
        series = [(m, float(sum(c for k, c in (b.bins or {}).items() if k in hot)), float(b.den))
                  for m, b in s.buckets.items()]
    elif mon.d.agg in ("rate", "disparity"):
        series = [(m, b.num, float(b.den)) for m, b in s.buckets.items()]
    if series is not None:
        cp = change_point(series, direction="down" if mon.d.condition.op == "ratio_le" and hot is None
                          else "up")
        if cp is not None:
            return {"at": _iso(cp.minute), **{k: v for k, v in cp.as_dict().items() if k != "segments"}}
    if hits:
        return {"at": _iso(min(h.minute for h in hits)), "method": "first_in_window"}
    return None


def alert(mon: Monitor, group: str, s: Series, at: datetime, resolved: bool = False, new: bool = False,
          only: list[Hit] | None = None) -> Alert:
    """`only`: the alert carries just these hits (new calls of a group that fires already)."""
    d, v = mon.d, s.values
    hits = linked(mon, s, v["window_lo"]) if only is None else only[-MAX_LINKED:]
    details: dict[str, Any] = {}
    if new:
        onset = onset_of(mon, s, hits)
        if onset is not None:
            details["onset"] = onset

    def uniq(xs: Iterable[str | None]) -> tuple[str, ...]:
        return tuple(sorted({x for x in xs if x and x != "-"}))

    fields = {"value": v["value"], "baseline": v["baseline"] or 0.0, "ratio": v["ratio"], "group": group,
              "monitor": d.name}
    try:
        title = (d.title or "{monitor} on {group}").format(**fields)
    except (KeyError, ValueError, IndexError):
        title = f"{d.name} on {group}"
    signal = ",".join(d.match.detector) if d.signal == "findings" and d.match.detector else d.signal
    return Alert(
        dedup_key=f"monitor:{d.name}:{group}", source="monitor", title=title, type=d.type, severity=d.severity,
        at=at, apps=uniq([h.app for h in hits] + [_group_value(group, "app")]),
        call_ids=tuple(h.call_id for h in hits), tenants=uniq(h.tenant for h in hits),
        models=uniq(h.model for h in hits), prompt_versions=uniq(h.prompt_version for h in hits),
        tools=uniq([t for h in hits for t in h.tools] if "tool" not in d.group_by
                   else [_group_value(group, "tool")]),
        sessions=uniq(h.session for h in hits), keys=uniq(h.key for h in hits),
        monitor=d.name, signal=signal,
        details={"value": rounded(v["value"]), "baseline": rounded(v["baseline"]), "ratio": rounded(v["ratio"]),
                 "window": f"{d.window}m", "volume": v["volume"], "count": rounded(v["count"]),
                 "condition": str(d.condition), "group": group, "resolved": resolved,
                 "update": only is not None, "min_count": d.min_count, **details,
                 **{k: (rounded(v[k]) if isinstance(v[k], float) else v[k])
                    for k in ("p_value", "difference", "rest_volume", "cohort") if k in v}},
    )


def _group_value(group: str, key: str) -> str | None:
    for part in group.split(","):
        k, _, v = part.partition("=")
        if k == key:
            return v
    return None


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()


def rounded(x: float | None) -> float | None:
    """A figure as the API shows it: 6 decimals, None for infinity and NaN."""
    if x is None or math.isinf(x) or math.isnan(x):
        return None
    return round(float(x), 6)
