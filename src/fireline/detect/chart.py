"""A monitor's history for one group, as the console draws it: the value it judged at each step,
its baseline, the threshold band, and when it was firing.

Read from the engine's own minute buckets (the same ones it evaluates, rebuilt from the log at
start, as far back as its baseline horizon), so the chart shows what the monitor saw. At each step
end the monitor is evaluated exactly as it would have been then (window, trailing baseline, trust,
floor, condition). When a step is longer than the monitor's window, a rate, mean, count or sum is
aggregated over the whole step instead (a count scaled to one window), so no spike between two
samples is lost. `firing` lists the stretches where the raw condition held; `alerting` the stretches
where the alert was firing, replayed step by step with the engine's hysteresis (it fires when the
condition holds, judges "clear" against `recovery` while firing, and resolves only once clear for
`recover_after`), so a flap or the recovery period after the condition cleared shows as firing, as
the alert and the incident did. At steps longer than a minute the replay's times are to the step.
`recovery` is the live group's recovery period, if it is in one (clear since, resolves at).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.detect.models import MonitorAlert
from fireline.detect.monitor import Monitor
from fireline.detect.monitors import Engine
from fireline.detect.series import Series
from fireline.errors import Invalid, NotFound

NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_POINTS = 400


def pick_step(minutes: int, points: int = 240) -> int:
    want = max(1, minutes // points)
    return next((s for s in NICE_STEPS if s >= want), NICE_STEPS[-1])


def _num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and (math.isinf(x) or math.isnan(x))):
        return None
    return round(float(x), 6)


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).isoformat().replace("+00:00", "Z")


def _band(mon: Monitor, baseline: float | None) -> tuple[float | None, float | None]:
    """(low, high) of the values that fire, for the chart's threshold band."""
    cond = mon.d.condition
    if cond.op == "any":  # fires on a count: a band only where the value is that count
        return (float(max(mon.d.min_count, 1)), None) if mon.d.agg in ("count", "sum") else (None, None)
    if cond.op == "ratio_ge":
        return (baseline * cond.threshold if baseline is not None else None), None
    if cond.op == "ratio_le":
        return None, (baseline * cond.threshold if baseline is not None else None)
    if cond.op == "value_ge":
        return cond.threshold, None
    return None, cond.threshold  # value_le


def _aggregate(mon: Monitor, s: Series, lo: int, hi: int) -> float | None:
    num = den = 0.0
    for m in range(lo, hi):
        b = s.buckets.get(m)
        if b is not None:
            num += b.num
            den += b.den
    agg = mon.d.agg
    if agg in ("rate", "mean"):
        return num / den if den else 0.0
    if agg in ("count", "sum"):
        return num * mon.d.window / max(hi - lo, 1)
    return None


def _monitor(engine: Engine, name: str) -> Monitor:
    mon = next((m for m in engine.monitors if m.d.name == name), None)
    if mon is None:
        raise NotFound(f"no monitor named {name}")
    return mon


def _range(mon: Monitor, hours: float, step: int | None, now_minute: int) -> tuple[int, int, int]:
    """(step, first minute of the range, minutes replayed before it: recover_after in whole steps)."""
    if not 0 < hours <= 24 * 31:
        raise Invalid("hours: between 0 and 744", field="hours")
    minutes = int(hours * 60)
    step = step or pick_step(minutes)
    if step < 1 or minutes // step > MAX_POINTS * 4:
        raise Invalid(f"step: at least {max(1, minutes // (MAX_POINTS * 4))} minutes for {hours:g} hours",
                      field="step")
    return step, now_minute + 1 - minutes, -(-mon.d.recover_minutes // step) * step


def monitor_series(engine: Engine, name: str, group: str | None, *, hours: float, step: int | None = None,
                   now: float | None = None, fired: tuple[str, list[datetime]] | None = None) -> dict[str, Any]:
    """`fired`: a group and the times it fired (its alert rows): a firing the minute buckets cannot show
    (the condition held only within a minute) still marks the alert firing from its step on."""
    mon = _monitor(engine, name)
    now_minute = int((now if now is not None else engine.clock()) // 60)
    step, start, pre = _range(mon, hours, step, now_minute)
    with engine.lock:
        groups = sorted(mon.series, key=lambda g: (mon.series[g].state != "firing", g))
        chosen = group if group is not None else (groups[0] if groups else None)
        points: list[dict[str, Any]] = []
        series = mon.series.get(chosen) if chosen is not None else None
        if chosen is not None and group is not None and series is None:
            raise NotFound(f"monitor {name} has no data for group {group}")
        if series is not None:
            # A copy sharing the buckets: evaluating it never moves the live series' running sums.
            probe = Series(buckets=series.buckets, first=series.first)
            first = start + step - 1 - pre
            # the step ends whose steps hold a recorded firing (the first end at or after its minute)
            fired_ends = {first + -(-(int(t.timestamp() // 60) - first) // step) * step
                          for t in (fired[1] if fired is not None and fired[0] == chosen else ())}
            replay = Hysteresis(mon.d.recover_minutes)
            # Replayed from recover_after before the range: by its start the replay agrees with the engine.
            for end in range(first, now_minute + 1, step):
                probe.state = "ok"
                v = mon.evaluate(chosen or "", probe, end)
                held = bool(v["firing"])
                holding = held
                if replay.firing and mon.d.recovery is not None:  # while firing, clear means past `recovery`
                    probe.state = "firing"
                    holding = bool(mon.evaluate(chosen or "", probe, end)["firing"])
                alerting = replay.step(end, holding, fired=end in fired_ends)
                if end < start + step - 1:
                    continue
                value = v["value"]
                if step > mon.d.window:
                    lo = end + 1 - step - mon.shift
                    value = _aggregate(mon, probe, lo, lo + step) if mon.d.agg in ("rate", "mean", "count",
                                                                                    "sum") else value
                baseline = v["baseline"]
                low, high = _band(mon, baseline)
                points.append({"t": _iso(end + 1), "value": _num(value), "baseline": _num(baseline),
                               "band_low": _num(low), "band_high": _num(high), "calls": v["volume"],
                               "firing": held, "alert": alerting, "clear": alerting and not holding})
        recovery = None
        if series is not None and series.state == "firing" and series.clear_since is not None:
            resolves = series.clear_since + timedelta(minutes=mon.d.recover_minutes)
            recovery = {"clear_since": _stamp(series.clear_since), "resolves_at": _stamp(resolves)}
    return {"monitor": name, "group": chosen, "groups": groups[:200], "definition": mon.d.public(),
            "step_minutes": step, "since": _iso(start), "until": _iso(now_minute + 1),
            "state": series.state if series is not None else "no data", "points": points,
            "firing": stretches(points, step, "firing"), "alerting": alert_stretches(points, step),
            "recovery": recovery}


class Hysteresis:
    """The engine's firing state (`Engine._evaluate`) replayed over step ends: fires when the condition
    holds, resolves once it has been clear for `recover` minutes."""

    def __init__(self, recover: int) -> None:
        self.recover = recover
        self.firing = False
        self.clear_since: int | None = None

    def step(self, minute: int, holds: bool, fired: bool = False) -> bool:
        """The state after the evaluation at `minute`: True while firing (in a recovery period too).
        `fired`: the group fired (or re-fired) within this step, whatever the condition at its end."""
        if holds:
            self.firing, self.clear_since = True, None
        elif fired:  # held within the step, clear by its end: clear from here
            self.firing, self.clear_since = True, minute
        elif self.firing:
            if self.clear_since is None:
                self.clear_since = minute
            if minute - self.clear_since >= self.recover:
                self.firing, self.clear_since = False, None
        return self.firing


def stretches(points: list[dict[str, Any]], step: int, key: str) -> list[dict[str, Any]]:
    """The runs of points with `key` true: from the start of the first step to the end of the last."""
    out: list[dict[str, Any]] = []
    for p_prev, p in zip([None, *points], points, strict=False):
        if p[key] and (p_prev is None or not p_prev[key]):
            out.append({"from": _iso(_minute(p["t"]) - step), "to": p["t"], "source": "condition"})
        elif p[key] and out:
            out[-1]["to"] = p["t"]
    return out


def alert_stretches(points: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    """When the alert was firing. A stretch ends where it resolved (`resolved`), or at the last point while
    it still fires; `clear_from` starts its last recovery period (condition clear, alert still firing)."""
    out: list[dict[str, Any]] = []
    i, n = 0, len(points)
    while i < n:
        if not points[i]["alert"]:
            i += 1
            continue
        j = i
        while j + 1 < n and points[j + 1]["alert"]:
            j += 1
        k = j
        while k > i and points[k]["clear"]:
            k -= 1
        start = _iso(_minute(points[i]["t"]) - step)
        clear_from = None if not points[j]["clear"] else start if points[k]["clear"] else points[k]["t"]
        resolved = j + 1 < n
        out.append({"from": start, "to": points[j + 1 if resolved else j]["t"], "source": "alert",
                    "resolved": resolved, "clear_from": clear_from})
        i = j + 1
    return out


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _minute(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() // 60)


def with_alerts(session: Session, chart: dict[str, Any]) -> dict[str, Any]:
    """Adds the alerts recorded for this monitor and group in the chart's range."""
    if chart["group"] is None:
        chart["alerts"] = []
        return chart
    since = datetime.fromisoformat(chart["since"].replace("Z", "+00:00"))
    rows = session.scalars(select(MonitorAlert).where(
        MonitorAlert.monitor == chart["monitor"], MonitorAlert.group == chart["group"],
        MonitorAlert.fired_at >= since).order_by(MonitorAlert.fired_at).limit(500))
    chart["alerts"] = [{"id": a.id, "at": a.fired_at.isoformat().replace("+00:00", "Z"), "value": _num(a.value),
                        "baseline": _num(a.baseline), "calls": len(a.call_ids or [])} for a in rows]
    return chart


def series_with_alerts(engine: Engine, session: Session, name: str, group: str | None, *, hours: float,
                       step: int | None = None) -> dict[str, Any]:
    """`monitor_series` with the group's recorded firings replayed too, and its alerts in the range. The
    rows are read outside the engine's lock (taken only briefly to pick the default group)."""
    mon = _monitor(engine, name)
    now = engine.clock()
    step, start, pre = _range(mon, hours, step, int(now // 60))
    chosen = group
    if chosen is None:
        with engine.lock:
            chosen = min(mon.series, key=lambda g: (mon.series[g].state != "firing", g), default=None)
    fired = None
    if chosen is not None:
        times = session.scalars(select(MonitorAlert.fired_at).where(
            MonitorAlert.monitor == name, MonitorAlert.group == chosen,
            MonitorAlert.fired_at >= datetime.fromtimestamp((start - pre) * 60, UTC))
            .order_by(MonitorAlert.fired_at.desc()).limit(5000))
        fired = (chosen, list(times))
    return with_alerts(session, monitor_series(engine, name, group, hours=hours, step=step, now=now, fired=fired))
