"""The monitor engine: incremental per-minute counters, evaluated as data arrives and on a clock.

Every call feeds every monitor once (denominator +1 in each of its groups; numerator when the
call matches the monitor's signal); reports feed report monitors. The groups a batch touched
are evaluated right away; firing groups and drop monitors are evaluated by `tick()` about
once a second. The engine holds no database handle: `emit` receives what fired or resolved.

Baseline rule (docs/detectors.md, "Monitors"): the trailing `baseline.days` before the
current window, for the same window length, when that history holds at least
`baseline.min_volume` calls; otherwise the fixed `baseline.default`. Either way it is never
below `baseline.floor`, so a brand-new app with a spike compares against a sensible rate.
"""

from __future__ import annotations

import logging
import math
import operator
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fireline.detect import distribution
from fireline.detect.monitor_defs import CONTAINED_STATUSES, MonitorDef
from fireline.detect.onset import change_point
from fireline.detect.series import Hit, Series, latency_bin, quantile
from fireline.signals import Alert

log = logging.getLogger("fireline.detect.monitors")

SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
_BUILTIN = frozenset({"app", "tenant", "model", "alias", "route", "prompt_version"})
NUMERIC = frozenset({"output_tokens", "input_tokens"})
MAX_GROUPS = 10_000
MAX_LINKED = 100
GROUPINGS = 4096  # distinct key values whose groups are remembered
UPDATING = ("findings", "errors")  # signals whose hits are calls worth attaching as they arrive


@dataclass(slots=True)
class Fact:
    """What the monitors need of one call (or one report), computed once."""

    id: str
    minute: int
    app: str
    tenant: str | None
    model: str | None
    prompt_version: str | None
    tools: tuple[str, ...]
    status: str = "ok"
    cost: float | None = None
    latency: float | None = None
    findings: tuple[dict[str, Any], ...] = ()
    report_kind: str | None = None  # set for a report instead of a call
    session: str | None = None
    api_key: str | None = None
    alias: str | None = None  # the model the app asked for (the resolved one is `model`)
    route: str | None = None
    attrs: dict[str, str] | None = None  # declared cohort attributes (metadata) of the call
    features: dict[str, tuple[int, float]] | None = None  # distribution features: (bin, value)

    def key(self, name: str) -> tuple[str, ...]:
        if name == "tool":
            return self.tools or ("-",)
        value = getattr(self, name) if name in _BUILTIN else (self.attrs.get(name) if self.attrs else None)
        return (value if value is not None else "-",)


@dataclass(slots=True)
class Fired:
    monitor: MonitorDef
    group: str
    alert: Alert
    resolved: bool = False
    before: tuple[str, datetime | None] = ("ok", None)  # the group's state and last firing before this
    update: bool = False  # new matching calls in a group that is firing already (not a new firing)


class Monitor:
    """One definition and its series per group."""

    def __init__(self, d: MonitorDef, horizon_minutes: int) -> None:
        self.d = d
        self.horizon = horizon_minutes if d.baseline.days > 0 else 0
        self.series: dict[str, Series] = {}
        self.shift = 1 if d.condition.op == "ratio_le" else 0  # drops look at whole minutes only
        m = d.match
        self._det = frozenset(m.detector)
        self._kind = frozenset(m.kind)
        self._loc = frozenset(m.location)
        self._sev = SEVERITY_RANK[m.min_severity]
        self._reports = frozenset(m.report_kind)
        self._status = frozenset(m.status)
        self.alerts_fired = 0
        self.where = tuple((k, frozenset(v)) for k, v in sorted(d.where.items()))
        self._by_tool = "tool" in d.group_by
        self.answers_only = d.answers_only
        self.family = (d.group_by, self.where, self.answers_only)  # monitors sharing denominators
        self.filtered = bool(self.where) or self.answers_only
        self.feature = d.feature
        # The hot path: one lean feeder per signal, same result as `collect` (tests/detect/test_monitor_feeders.py).
        self.feed: Callable[[Fact, tuple[str, ...], dict[tuple[Monitor, str, int], list[Any]]], None] = {
            "distribution": self._feed_distribution, "latency": self._feed_latency, "cost": self._feed_cost,
            "errors": self._feed_errors, "calls": self._feed_calls}.get(d.signal, self.collect)

    def admits(self, fact: Fact) -> bool:
        if self.answers_only and fact.report_kind is None and fact.status in CONTAINED_STATUSES:
            return False  # answered by containment, not by the model (monitor_defs.MODEL_TYPES)
        return all(fact.key(k)[0] in values for k, values in self.where)

    # ---- feeding ----
    def _matching_findings(self, fact: Fact) -> list[dict[str, Any]]:
        return [f for f in fact.findings
                if (not self._det or f["detector"] in self._det) and (not self._kind or f["kind"] in self._kind)
                and (not self._loc or f["location"] in self._loc)
                and SEVERITY_RANK.get(f["severity"], 3) <= self._sev]

    def measure(self, fact: Fact) -> tuple[float, float, tuple[str, ...] | None]:
        """(numerator, score for picking linked calls, tools the hit concerns or None for all)."""
        sig = self.d.signal
        if fact.report_kind is not None:
            hit = sig == "reports" and (not self._reports or fact.report_kind in self._reports)
            return (1.0, 1.0, None) if hit else (0.0, 0.0, None)
        if sig == "findings":
            found = self._matching_findings(fact)
            if not found:
                return 0.0, 0.0, None
            tools = tuple({f["tool"] for f in found if f.get("tool")}) or None
            return 1.0, float(len(found)), tools
        if sig == "errors":
            return (1.0, 1.0, None) if fact.status in self._status else (0.0, 0.0, None)
        if sig == "calls":
            return 1.0, 0.0, None
        if sig == "cost":
            return (fact.cost or 0.0), (fact.cost or 0.0), None
        if sig == "latency":
            return 0.0, (fact.latency or 0.0), None
        return 0.0, 0.0, None

    def groups(self, fact: Fact, only_tools: tuple[str, ...] | None = None) -> list[str]:
        if not self._by_tool:  # one value per key: one group (the common case, kept cheap)
            return [",".join([f"{key}={fact.key(key)[0]}" for key in self.d.group_by]) or "all"]
        parts: list[list[str]] = [[]]
        for key in self.d.group_by:
            values = fact.key(key)
            if key == "tool" and only_tools is not None:
                values = only_tools
            parts = [p + [f"{key}={v}"] for p in parts for v in values]
        return [",".join(p) or "all" for p in parts]

    def get(self, group: str) -> Series | None:
        s = self.series.get(group)
        if s is None:
            if len(self.series) >= MAX_GROUPS:
                return None
            s = self.series[group] = Series()
        return s

    def collect(self, fact: Fact, groups: Sequence[str], acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        """Add one call's (or report's) numerator to the batch accumulator; hits go to the series.

        Call counts (denominators) are kept once per group-by by the engine, except for latency,
        whose samples are the calls that report a latency."""
        is_report = fact.report_kind is not None
        sig = self.d.signal
        if sig == "findings" and not fact.findings and not is_report:
            return
        latency = None
        if sig == "distribution":
            if is_report or not fact.features or self.d.feature not in fact.features:
                return
            latency, num = fact.features[self.d.feature]  # (bin, value): a histogram like latency's
            score, tools = float(latency), None
        else:
            num, score, tools = self.measure(fact)
        if sig == "latency" and not is_report and fact.latency is not None:
            latency = latency_bin(fact.latency)
        elif num == 0 and sig != "distribution":
            return
        keep = num > 0 or (score > 0 and sig in ("latency", "cost")) or sig == "distribution"
        # A finding on one tool call counts for that tool's group only.
        hit_groups = set(self.groups(fact, tools)) if tools is not None and "tool" in self.d.group_by else None
        for group in groups:
            if hit_groups is not None and group not in hit_groups:
                continue
            slot = acc.get((self, group, fact.minute))
            if slot is None:
                slot = acc[(self, group, fact.minute)] = [0.0, 0, None]
            slot[0] += num
            if latency is not None:
                slot[1] += 1
                if slot[2] is None:
                    slot[2] = {}
                slot[2][latency] = slot[2].get(latency, 0) + 1
            if keep:
                s = self.get(group)
                if s is not None and (latency is None or sig != "distribution" or latency not in s.usual):
                    s.hits.append(Hit(fact.minute, score, fact.id, fact.app, fact.tenant, fact.model,
                                      fact.prompt_version, fact.tools, fact.session, fact.api_key))
                    s.hit_total += 1

    # Lean feeders of the signals every call feeds (no findings, no reports): what `collect` does for
    # them, without its generic branching. Hits and slots are made in the same order as `collect`.
    def _hit(self, group: str, fact: Fact, score: float) -> None:
        s = self.series.get(group) or self.get(group)
        if s is not None:
            s.hits.append(Hit(fact.minute, score, fact.id, fact.app, fact.tenant, fact.model, fact.prompt_version,
                              fact.tools, fact.session, fact.api_key))
            s.hit_total += 1

    def _feed_distribution(self, fact: Fact, groups: tuple[str, ...],
                           acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        features = fact.features
        if not features or fact.report_kind is not None:
            return
        fv = features.get(self.feature)  # type: ignore[arg-type]
        if fv is None:
            return
        b, num = fv
        minute = fact.minute
        series = self.series
        for group in groups:
            key = (self, group, minute)
            slot = acc.get(key)
            if slot is None:
                slot = acc[key] = [0.0, 0, {}]
            slot[0] += num
            slot[1] += 1
            bins = slot[2]
            bins[b] = bins.get(b, 0) + 1
            s = series.get(group) or self.get(group)
            if s is not None and b not in s.usual:
                s.hits.append(Hit(minute, float(b), fact.id, fact.app, fact.tenant, fact.model,
                                  fact.prompt_version, fact.tools, fact.session, fact.api_key))
                s.hit_total += 1

    def _feed_latency(self, fact: Fact, groups: tuple[str, ...],
                      acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        latency = fact.latency
        if latency is None or fact.report_kind is not None:
            return
        b = latency_bin(latency)
        minute = fact.minute
        for group in groups:
            key = (self, group, minute)
            slot = acc.get(key)
            if slot is None:
                slot = acc[key] = [0.0, 0, {}]
            slot[1] += 1
            bins = slot[2]
            bins[b] = bins.get(b, 0) + 1
            if latency > 0:
                self._hit(group, fact, latency)

    def _add_num(self, fact: Fact, groups: tuple[str, ...], acc: dict[tuple[Monitor, str, int], list[Any]],
                 num: float, score: float) -> None:
        minute = fact.minute
        for group in groups:
            key = (self, group, minute)
            slot = acc.get(key)
            if slot is None:
                slot = acc[key] = [0.0, 0, None]
            slot[0] += num
            if num > 0 or score > 0:
                self._hit(group, fact, score)

    def _feed_cost(self, fact: Fact, groups: tuple[str, ...], acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        if fact.report_kind is None and fact.cost:
            self._add_num(fact, groups, acc, fact.cost, fact.cost)

    def _feed_errors(self, fact: Fact, groups: tuple[str, ...],
                     acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        if fact.report_kind is None and fact.status in self._status:
            self._add_num(fact, groups, acc, 1.0, 1.0)

    def _feed_calls(self, fact: Fact, groups: tuple[str, ...], acc: dict[tuple[Monitor, str, int], list[Any]]) -> None:
        if fact.report_kind is None:
            self._add_num(fact, groups, acc, 1.0, 0.0)

    # ---- evaluating ----
    def ranges(self, now_minute: int) -> tuple[int, int, int]:
        hi = now_minute + 1 - self.shift
        lo = hi - self.d.window
        return lo, hi, lo - self.horizon

    def evaluate(self, group: str, s: Series, now_minute: int) -> dict[str, Any]:
        d = self.d
        lo, hi, hist_lo = self.ranges(now_minute)
        s.window.move(s.buckets, lo, hi)
        s.history.move(s.buckets, hist_lo, lo)
        w, h = s.window, s.history
        agg = d.agg
        if agg == "disparity":
            return self.evaluate_disparity(group, s, now_minute)
        extra: dict[str, Any] = {}
        if agg in ("rate", "mean"):
            value = w.num / w.den if w.den else 0.0
            trailing = h.num / h.den if h.den else 0.0
        elif agg in ("psi", "js"):
            value = (distribution.psi if agg == "psi" else distribution.js)(w.bins, h.bins)
            trailing = 0.0
        elif agg == "p99":
            value = quantile(w.bins, 0.99)
            trailing = quantile(h.bins, 0.99)
        else:  # count, sum: per window, averaged over the history actually covered
            value = w.num
            start = max(h.lo, s.first if s.first is not None else h.hi)
            covered = max(h.hi - start, d.window)
            trailing = h.num * d.window / covered
        count = w.den if agg in ("p99", "sum", "mean", "psi", "js") else w.num
        trusted = self.horizon > 0 and h.den >= d.baseline.min_volume
        baseline = max(trailing if trusted else d.baseline.default, d.baseline.floor)
        ratio = value / baseline if baseline > 0 else (math.inf if value > 0 else 0.0)
        cond = d.condition
        if cond.op == "any":
            firing = count >= max(d.min_count, 1)
        elif cond.op == "ratio_le":
            firing = trusted and baseline > 0 and ratio <= cond.threshold
            if d.signal == "distribution":  # a shrinking mean needs calls to measure; silence is traffic_drop's
                firing = firing and w.den >= d.min_volume
        else:
            enough = w.den >= d.min_volume and count >= d.min_count and value >= d.min_value
            if d.signal == "distribution":
                enough = enough and trusted  # a shift means something only against a real baseline
            if cond.op == "ratio_ge":
                firing = enough and ratio >= cond.threshold
            elif cond.op == "value_ge":
                firing = enough and value >= cond.threshold
            else:
                firing = w.den >= d.min_volume and value <= cond.threshold
        if agg in ("psi", "js"):
            baseline, ratio = 0.0, 0.0
        if d.signal == "distribution" and trusted:
            # The bins history calls usual: calls in them are not kept to be linked to an alert.
            rare = distribution.tail(h.bins, numeric=d.feature in NUMERIC)
            s.usual = frozenset(k for k in h.bins if k not in rare)
        s.values = {"value": value, "baseline": baseline if cond.op != "any" else None, "ratio": ratio,
                    "volume": w.den, "count": count, "trusted": trusted, "firing": firing, "window_lo": lo, **extra}
        return s.values

    def siblings(self, group: str) -> tuple[str, list[tuple[str, Series]]]:
        """The cohort value of a group and the other cohorts' series with the same other keys."""
        assert self.d.compare is not None
        across = self.d.compare.across
        parts = group.split(",")
        mine = next((p for p in parts if p.startswith(across + "=")), "")
        rest_key = [p for p in parts if p != mine]
        out = []
        for g, s in self.series.items():
            if g == group:
                continue
            gp = g.split(",")
            other = next((p for p in gp if p.startswith(across + "=")), "")
            if other != f"{across}=-" and [p for p in gp if p != other] == rest_key:
                out.append((g, s))
        return mine.partition("=")[2], out

    def evaluate_disparity(self, group: str, s: Series, now_minute: int) -> dict[str, Any]:
        """One cohort's rate against the rest of its group: ratio (or difference), minimum samples on
        both sides, and a one-sided two-proportion z-test at `compare.alpha`."""
        d = self.d
        assert d.compare is not None
        lo, hi, hist_lo = self.ranges(now_minute)
        cohort, others = self.siblings(group)
        x1, n1 = s.window.num, s.window.den
        x2 = n2 = 0.0
        for _, o in others:
            o.window.move(o.buckets, lo, hi)
            o.history.move(o.buckets, hist_lo, lo)
            x2 += o.window.num
            n2 += o.window.den
        p1 = x1 / n1 if n1 else 0.0
        p2 = x2 / n2 if n2 else 0.0
        ratio = p1 / p2 if p2 > 0 else (math.inf if p1 > 0 else 0.0)
        diff = p1 - p2
        pooled = (x1 + x2) / (n1 + n2) if n1 + n2 else 0.0
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if n1 and n2 and 0 < pooled < 1 else 0.0
        z = diff / se if se else 0.0
        p_value = 0.5 * math.erfc(z / math.sqrt(2))
        measured = ratio if d.compare.measure == "ratio" else diff
        firing = (cohort not in ("", "-") and n1 >= d.compare.min_sample and n2 >= d.compare.min_sample
                  and x1 >= d.min_count and p1 >= d.min_value and p_value < d.compare.alpha
                  and measured >= d.condition.threshold)
        s.values = {"value": p1, "baseline": p2, "ratio": ratio, "volume": int(n1), "count": x1, "trusted": True,
                    "firing": firing, "window_lo": lo, "p_value": p_value, "difference": diff,
                    "rest_volume": int(n2), "cohort": cohort}
        return s.values

    def linked(self, s: Series, lo: int) -> list[Hit]:
        hits = [h for h in s.hits if h.minute >= lo]
        hot = self.hot(s)
        if hot is not None:
            hits = [h for h in hits if int(h.score) in hot]
        if self.d.signal in ("latency", "cost"):
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

    def fresh(self, s: Series) -> list[Hit]:
        """The hits no alert of this group carried yet (newest last), marked as carried now."""
        n = min(s.hit_total - s.hits_emitted, len(s.hits))
        s.hits_emitted = s.hit_total
        return list(s.hits)[len(s.hits) - n:] if n > 0 else []

    def hot(self, s: Series) -> set[int] | None:
        """For a distribution monitor, the bins that carry the shift (None for other monitors)."""
        if self.d.signal != "distribution":
            return None
        numeric = self.d.feature in ("output_tokens", "input_tokens")
        return distribution.hot_bins(s.window.bins, s.history.bins, numeric=numeric,
                                     down=self.d.condition.op == "ratio_le")

    def onset(self, s: Series, hits: list[Hit]) -> dict[str, Any] | None:
        """Where this group's rate changed (detect.onset), else the first hit of the window. A
        distribution's rate is the share of calls in the bins that carry the shift."""
        hot = self.hot(s)
        series: list[tuple[int, float, float]] | None = None
        if hot is not None:
            series = [(m, float(sum(c for k, c in (b.bins or {}).items() if k in hot)), float(b.den))
                      for m, b in s.buckets.items()]
        elif self.d.agg in ("rate", "disparity"):
            series = [(m, b.num, float(b.den)) for m, b in s.buckets.items()]
        if series is not None:
            cp = change_point(series, direction="down" if self.d.condition.op == "ratio_le" and hot is None
                              else "up")
            if cp is not None:
                return {"at": _iso(cp.minute), **{k: v for k, v in cp.as_dict().items() if k != "segments"}}
        if hits:
            return {"at": _iso(min(h.minute for h in hits)), "method": "first_in_window"}
        return None

    def alert(self, group: str, s: Series, at: datetime, resolved: bool = False, new: bool = False,
              only: list[Hit] | None = None) -> Alert:
        """`only`: the alert carries just these hits (new calls of a group that fires already)."""
        d, v = self.d, s.values
        hits = self.linked(s, v["window_lo"]) if only is None else only[-MAX_LINKED:]
        details: dict[str, Any] = {}
        if new:
            onset = self.onset(s, hits)
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
            details={"value": _num(v["value"]), "baseline": _num(v["baseline"]), "ratio": _num(v["ratio"]),
                     "window": f"{d.window}m", "volume": v["volume"], "count": _num(v["count"]),
                     "condition": str(d.condition), "group": group, "resolved": resolved,
                     "update": only is not None, "min_count": d.min_count, **details,
                     **{k: (_num(v[k]) if isinstance(v[k], float) else v[k])
                        for k in ("p_value", "difference", "rest_volume", "cohort") if k in v}},
        )


class Family:
    """Monitors with the same group-by and filter: they share the groups of a call and its counts."""

    __slots__ = ("first", "answers_only", "where")

    def __init__(self, first: Monitor) -> None:
        self.first = first
        self.answers_only = first.answers_only
        self.where = bool(first.where)

    def groups(self, fact: Fact, contained: bool) -> tuple[str, ...]:
        if (contained and self.answers_only) or (self.where and not self.first.admits(fact)):
            return ()
        return tuple(self.first.groups(fact))


class Grouping:
    """The groups of a call in every family, shared by the calls with the same key values."""

    __slots__ = ("by_family",)

    def __init__(self, by_family: list[tuple[str, ...]]) -> None:
        self.by_family = by_family


def _signature(keys: Iterable[str]) -> Callable[[Fact, bool], Any]:
    """What a call's groups in every family depend on: whether it was contained and its raw values
    of the group-by and filter keys (the values `Fact.key` turns into group names)."""
    builtin = sorted(k for k in set(keys) if k in _BUILTIN)
    attrs = tuple(sorted(k for k in set(keys) if k not in _BUILTIN and k != "tool"))
    tools = "tool" in keys
    get = operator.attrgetter(*builtin) if builtin else (lambda fact: None)

    def signature(fact: Fact, contained: bool) -> Any:
        a = fact.attrs
        return (contained, get(fact), fact.tools if tools else None,
                tuple([a.get(k) for k in attrs]) if a and attrs else None)
    return signature


def _group_value(group: str, key: str) -> str | None:
    for part in group.split(","):
        k, _, v = part.partition("=")
        if k == key:
            return v
    return None


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()


def _num(x: float | None) -> float | None:
    if x is None or math.isinf(x) or math.isnan(x):
        return None
    return round(float(x), 6)


class Engine:
    """All monitors of one server. Thread-safe; `emit` is called outside the lock."""

    def __init__(self, defs: list[MonitorDef], emit: Callable[[list[Fired]], None],
                 clock: Callable[[], float] = time.time) -> None:
        horizon = max((int(d.baseline.days * 1440) for d in defs), default=0)
        self.horizon = horizon
        self.monitors = [Monitor(d, int(d.baseline.days * 1440)) for d in defs]
        # Monitors with the same group-by and filter share their denominators (calls per group x minute).
        self.monitors_by_gb: dict[Any, Monitor] = {m.family: m for m in self.monitors}
        self.group_bys: list[Any] = list(self.monitors_by_gb)
        self.families = [Family(self.monitors_by_gb[gb]) for gb in self.group_bys]
        self._signature = _signature([k for m in self.monitors for k in (*m.d.group_by, *m.d.where)])
        self._groupings: dict[Any, Grouping] = {}
        index = {gb: i for i, gb in enumerate(self.group_bys)}
        self.family_of = {m: index[m.family] for m in self.monitors}
        self.report_monitors = [m for m in self.monitors if m.d.signal == "reports"]
        self.call_monitors = [m for m in self.monitors if m.d.signal != "reports"]
        self.plain_monitors = [m for m in self.call_monitors if m.d.signal != "findings"]
        # (feeder, family index) in monitor order: what a report, a call with findings, a plain call feeds
        self._feeding = {name: [(m.feed, self.family_of[m]) for m in mons] for name, mons in
                         (("reports", self.report_monitors), ("calls", self.call_monitors),
                          ("plain", self.plain_monitors))}
        self.emit = emit
        self.clock = clock
        self.lock = threading.RLock()
        self._last_prune = 0
        # Minutes older than every window and baseline can never matter (a call dated year 1).
        self.reach = horizon + max((d.window for d in defs), default=0) + 2
        self.retry: set[tuple[Monitor, str]] = set()  # firings whose alert could not be recorded
        # New firings whose alert is being recorded: readers see the state from before until it is.
        self.unconfirmed: dict[tuple[Monitor, str], str] = {}

    def now_minute(self) -> int:
        return int(self.clock() // 60)

    def observe(self, facts: Iterable[Fact], *, count: bool = True) -> None:
        """Count a batch: accumulated per group x minute first, then one add per monitor x slot.
        With count=False (calls the startup rebuild already counted) only link and evaluate."""
        now_minute = self.now_minute()
        families = self.families
        dens: list[dict[tuple[str, int], int]] = [{} for _ in families]
        calls: dict[tuple[Grouping, int], int] = {}  # calls per grouping x minute, spread into dens below
        acc: dict[tuple[Monitor, str, int], list[Any]] = {}
        oldest = now_minute - self.reach
        feed_reports, feed_calls, feed_plain = (self._feeding[k] for k in ("reports", "calls", "plain"))
        groupings, signature = self._groupings, self._signature
        with self.lock:
            for fact in facts:
                if fact.minute > now_minute:
                    fact.minute = now_minute  # a clock ahead of ours: count it as now
                elif fact.minute < oldest:
                    continue
                is_call = fact.report_kind is None
                contained = is_call and fact.status in CONTAINED_STATUSES
                try:
                    sig = signature(fact, contained)
                    grouping = groupings.get(sig)
                    if grouping is None:
                        if len(groupings) >= GROUPINGS:
                            groupings.clear()
                        grouping = groupings[sig] = Grouping([f.groups(fact, contained) for f in families])
                except TypeError:  # an unhashable key value (a list of tools): grouped, not remembered
                    grouping = Grouping([f.groups(fact, contained) for f in families])
                by_family = grouping.by_family
                if is_call:
                    k = (grouping, fact.minute)
                    calls[k] = calls.get(k, 0) + 1
                # Only the monitors this fact can feed: most calls carry no findings, no reports.
                for feed, i in (feed_reports if not is_call else feed_calls if fact.findings else feed_plain):
                    groups = by_family[i]
                    if groups:
                        feed(fact, groups, acc)
            # Same counts, and same first-seen order per family, as counting call by call.
            for (grouping, minute), n in calls.items():
                for slots, groups in zip(dens, grouping.by_family, strict=True):
                    for g in groups:
                        k2 = (g, minute)
                        slots[k2] = slots.get(k2, 0) + n
            touched: dict[tuple[Monitor, str], None] = {}
            if not count:
                for (mon, group, _), _slot in acc.items():
                    touched[(mon, group)] = None
                dens = [{} for _ in families]
                acc = {}
            for mon in self.monitors:
                if mon.d.signal not in ("latency", "distribution"):
                    for (group, minute), den in dens[self.family_of[mon]].items():
                        slot = acc.pop((mon, group, minute), None)
                        s = mon.get(group)
                        if s is not None:
                            s.add(minute, slot[0] if slot else 0.0, den)
                            touched[(mon, group)] = None
            for (mon, group, minute), (num, den, bins) in acc.items():
                s = mon.get(group)
                if s is not None:
                    s.add(minute, num, den, bins)
                    touched[(mon, group)] = None
            fired = self._evaluate([t for t in touched if not t[0].shift], now_minute)
        if fired:
            self._emit(fired)

    def _emit(self, fired: list[Fired]) -> None:
        """Hand the firings over (recorded, or undone by `unfire`), then show them as they are."""
        try:
            self.emit(fired)
        finally:
            with self.lock:
                for f in fired:
                    for mon in self.monitors:
                        if mon.d is f.monitor:
                            self.unconfirmed.pop((mon, f.group), None)

    def _evaluate(self, pairs: Iterable[tuple[Monitor, str]], now_minute: int) -> list[Fired]:
        out: list[Fired] = []
        now = datetime.fromtimestamp(self.clock(), UTC)
        for mon, group in pairs:
            s = mon.series.get(group)
            if s is None:
                continue
            v = mon.evaluate(group, s, now_minute)
            if v["firing"]:
                due = s.last_fired is None or (now - s.last_fired).total_seconds() >= mon.d.repeat_minutes * 60
                if s.state != "firing" or due:
                    new = s.state != "firing"
                    before = (s.state, s.last_fired)
                    self.unconfirmed.setdefault((mon, group), s.state)
                    s.state, s.last_fired = "firing", now
                    s.hits_emitted = s.hit_total
                    mon.alerts_fired += 1
                    out.append(Fired(mon.d, group, mon.alert(group, s, now, new=new), before=before))
                elif mon.d.signal in UPDATING and s.hit_total > s.hits_emitted:
                    # New matching calls while firing: passed on at once, whatever the repeat interval,
                    # so they attach to the open incident (or, once it is over, open a repeat).
                    out.append(Fired(mon.d, group, mon.alert(group, s, now, only=mon.fresh(s)), update=True))
            elif s.state == "firing":
                s.state = "ok"
                out.append(Fired(mon.d, group, mon.alert(group, s, now, resolved=True), resolved=True))
        return out

    def tick(self) -> None:
        """The clock: firing groups (re-fire or resolve) and drop monitors; pruning once a minute."""
        now_minute = self.now_minute()
        with self.lock:
            pairs = [(m, g) for m in self.monitors for g, s in m.series.items()
                     if s.state == "firing" or m.shift or (m, g) in self.retry]
            self.retry.clear()
            fired = self._evaluate(pairs, now_minute)
            if now_minute != self._last_prune:
                self._last_prune = now_minute
                self._prune(now_minute)
        if fired:
            self._emit(fired)

    def _prune(self, now_minute: int) -> None:
        for mon in self.monitors:
            lo, hi, hist_lo = mon.ranges(now_minute)
            for group in list(mon.series):
                s = mon.series[group]
                s.window.move(s.buckets, lo, hi)
                s.history.move(s.buckets, hist_lo, lo)
                s.prune(hist_lo)
                if not s.buckets and s.state == "ok":
                    del mon.series[group]

    def unfire(self, fired: Iterable[Fired]) -> None:
        """Undo firings whose alert could not be recorded: no false "firing" state; the clock
        evaluates these groups again on its next tick."""
        with self.lock:
            for f in fired:
                for mon in self.monitors:
                    if mon.d is f.monitor:
                        s = mon.series.get(f.group)
                        if s is not None:
                            s.state, s.last_fired = f.before
                            mon.alerts_fired = max(mon.alerts_fired - 1, 0)
                            self.retry.add((mon, f.group))

    def seed(self, monitor: str, group: str, minute: int, num: float, den: int,
             latency_bins: dict[int, int] | None = None) -> None:
        """Add aggregated history (the startup rebuild) without evaluating."""
        with self.lock:
            for mon in self.monitors:
                if mon.d.name != monitor:
                    continue
                s = mon.get(group)
                if s is None:
                    return
                s.add(minute, num, den, latency_bins)

    def mark_fired(self, monitor: str, group: str, at: datetime) -> None:
        with self.lock:
            for mon in self.monitors:
                if mon.d.name == monitor:
                    s = mon.get(group)
                    if s is not None and (s.last_fired is None or at > s.last_fired):
                        s.state, s.last_fired = "firing", at

    def snapshot(self, limit_groups: int = 200) -> list[dict[str, Any]]:
        """Definitions with fresh values per group (firing groups first), for the API and /metrics."""
        now_minute = self.now_minute()
        out = []
        with self.lock:
            for mon in self.monitors:
                groups = []
                for group, s in mon.series.items():
                    v = mon.evaluate(group, s, now_minute)
                    groups.append({"group": group, "value": _num(v["value"]), "baseline": _num(v["baseline"]),
                                   "ratio": _num(v["ratio"]), "volume": v["volume"],
                                   "state": self.unconfirmed.get((mon, group), s.state),
                                   "last_fired": s.last_fired})
                groups.sort(key=lambda g: (g["state"] != "firing", g["group"]))
                out.append({"name": mon.d.name, "definition": mon.d.public(), "alerts_fired": mon.alerts_fired,
                            "groups": groups[:limit_groups], "group_count": len(groups)})
        return out
