"""One monitor: its definition and its minute series per group, fed call by call, evaluated per group.

Baseline rule (docs/detectors.md, "Monitors"): the trailing `baseline.days` before the
current window, for the same window length, when that history holds at least
`baseline.min_volume` calls; otherwise the fixed `baseline.default`. Either way it is never
below `baseline.floor`, so a brand-new app with a spike compares against a sensible rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from fireline.detect import distribution
from fireline.detect.facts import Fact
from fireline.detect.monitor_defs import CONTAINED_STATUSES, MonitorDef
from fireline.detect.series import Hit, Series, latency_bin, quantile

SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
NUMERIC = frozenset({"output_tokens", "input_tokens"})
MAX_GROUPS = 10_000


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
        # A group in state "ok" whose numerator was never anything but 0 cannot fire (its value, count and
        # share are 0): `Engine._evaluate` leaves it unevaluated. True only where `evaluate` proves it: a rate
        # or a count (whose count is the numerator; not a sum, distribution or p99) judged by `any` or by a
        # `>=` condition that 0 misses, or a disparity that 0 misses (it needs x1 >= min_count, p1 >= min_value
        # and a ratio or difference >= the threshold, and with x1 = 0 both are 0 or less).
        cond = d.condition
        zero_misses = d.min_count >= 1 or d.min_value > 0 or cond.threshold > 0
        self.quiet_at_zero = ((d.agg in ("rate", "count")
                               and (cond.op == "any" or (cond.op in ("ratio_ge", "value_ge") and zero_misses)))
                              or (d.agg == "disparity" and zero_misses))
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

    def matches(self, finding: dict[str, Any]) -> bool:
        """Whether one finding feeds this findings monitor (the test of `_matching_findings`)."""
        return ((not self._det or finding["detector"] in self._det)
                and (not self._kind or finding["kind"] in self._kind)
                and (not self._loc or finding["location"] in self._loc)
                and SEVERITY_RANK.get(finding["severity"], 3) <= self._sev)

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

    def feed_found(self, fact: Fact, groups: tuple[str, ...], acc: dict[tuple[Monitor, str, int], list[Any]],
                   found: int, tools: tuple[str, ...] | None) -> None:
        """`collect` for a findings monitor that `found` (> 0) of the call's findings feed, `tools` the
        tools they name (None: none): the engine matched the findings once for all its monitors."""
        hit_groups = set(self.groups(fact, tools)) if tools is not None and self._by_tool else None
        score = float(found)
        minute = fact.minute
        for group in groups:
            if hit_groups is not None and group not in hit_groups:
                continue
            key = (self, group, minute)
            slot = acc.get(key)
            if slot is None:
                slot = acc[key] = [0.0, 0, None]
            slot[0] += 1.0
            self._hit(group, fact, score)

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
    def threshold(self, s: Series) -> float:
        """The condition's threshold, or for a firing group the recovery threshold when there is one:
        it stays firing until the measure crosses back past that (hysteresis)."""
        d = self.d
        return d.recovery if d.recovery is not None and s.state == "firing" else d.condition.threshold

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
        threshold = self.threshold(s)
        if cond.op == "any":
            firing = count >= max(d.min_count, 1)
        elif cond.op == "ratio_le":
            firing = trusted and baseline > 0 and ratio <= threshold
            if d.signal == "distribution":  # a shrinking mean needs calls to measure; silence is traffic_drop's
                firing = firing and w.den >= d.min_volume
        else:
            enough = w.den >= d.min_volume and count >= d.min_count and value >= d.min_value
            if d.signal == "distribution":
                enough = enough and trusted  # a shift means something only against a real baseline
            if cond.op == "ratio_ge":
                firing = enough and ratio >= threshold
            elif cond.op == "value_ge":
                firing = enough and value >= threshold
            else:
                firing = w.den >= d.min_volume and value <= threshold
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
                  and measured >= self.threshold(s))
        s.values = {"value": p1, "baseline": p2, "ratio": ratio, "volume": int(n1), "count": x1, "trusted": True,
                    "firing": firing, "window_lo": lo, "p_value": p_value, "difference": diff,
                    "rest_volume": int(n2), "cohort": cohort}
        return s.values
