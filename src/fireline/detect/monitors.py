"""The monitor engine: incremental per-minute counters, evaluated as data arrives and on a clock.

Every call feeds every monitor once (denominator +1 in each of its groups; numerator when the
call matches the monitor's signal); reports feed report monitors. The groups a batch touched
are evaluated right away; firing groups and drop monitors are evaluated by `tick()` about
once a second. The engine holds no database handle: `emit` receives what fired or resolved.

Monitors with the same group-by and filter form a family (`Family`): a call's groups are worked
out once per family and remembered per distinct key values (`Grouping`). One monitor's feeding
and evaluating is `detect.monitor`; what a firing carries is `detect.firing`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from fireline.detect.facts import Fact, key_signature
from fireline.detect.firing import Fired, alert, fresh, rounded
from fireline.detect.monitor import Monitor
from fireline.detect.monitor_defs import CONTAINED_STATUSES, MonitorDef

log = logging.getLogger("fireline.detect.monitors")

GROUPINGS = 4096  # distinct key values whose groups are remembered
UPDATING = ("findings", "errors")  # signals whose hits are calls worth attaching as they arrive


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
        self._signature = key_signature([k for m in self.monitors for k in (*m.d.group_by, *m.d.where)])
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
        # A call with findings: (feeder, family index, findings monitor or None) in monitor order. Which
        # findings monitors a finding feeds is worked out once per distinct finding (`_fed_by`).
        self._feeding_found = [(m.feed, self.family_of[m], m if m.d.signal == "findings" else None)
                               for m in self.call_monitors]
        self._findings_monitors = [m for m in self.call_monitors if m.d.signal == "findings"]
        self._fed_by: dict[tuple[Any, ...], tuple[Monitor, ...]] = {}
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
        feed_found = self._feeding_found
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
                found = self._found(fact.findings) if is_call and fact.findings else None
                if found is not None:
                    for feed, i, mon in feed_found:
                        groups = by_family[i]
                        if groups:
                            if mon is None:
                                feed(fact, groups, acc)
                            else:
                                hit = found.get(mon)
                                if hit is not None:  # else none of its findings: `collect` adds nothing
                                    mon.feed_found(fact, groups, acc, hit[0], tuple(hit[1]) or None)
                    continue
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

    def _found(self, findings: tuple[dict[str, Any], ...]) -> dict[Monitor, list[Any]] | None:
        """Per findings monitor fed by some of these findings: how many, and the tools they name (what
        `Monitor.measure` counts), each distinct finding matched once. None for a finding the index
        cannot key (a missing field, an unhashable value): that call takes the generic path."""
        out: dict[Monitor, list[Any]] = {}
        fed_by = self._fed_by
        try:
            for f in findings:
                key = (f["detector"], f["kind"], f["location"], f["severity"])
                mons = fed_by.get(key)
                if mons is None:
                    if len(fed_by) >= GROUPINGS:
                        fed_by.clear()
                    mons = fed_by[key] = tuple(m for m in self._findings_monitors if m.matches(f))
                tool = f.get("tool")
                for m in mons:
                    hit = out.get(m)
                    if hit is None:
                        hit = out[m] = [0, set()]
                    hit[0] += 1
                    if tool:
                        hit[1].add(tool)
        except (KeyError, TypeError):
            return None
        return out

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
            if s is None or (not s.counted and s.state == "ok" and mon.quiet_at_zero):
                continue  # (the second: nothing to fire, see Monitor.quiet_at_zero; `snapshot` still evaluates it)
            v = mon.evaluate(group, s, now_minute)
            if v["firing"]:
                s.clear_since = None
                due = s.last_fired is None or (now - s.last_fired).total_seconds() >= mon.d.repeat_minutes * 60
                if s.state != "firing" or due:
                    new = s.state != "firing"
                    before = (s.state, s.last_fired)
                    self.unconfirmed.setdefault((mon, group), s.state)
                    s.state, s.last_fired = "firing", now
                    s.hits_emitted = s.hit_total
                    mon.alerts_fired += 1
                    out.append(Fired(mon.d, group, alert(mon, group, s, now, new=new), before=before))
                elif mon.d.signal in UPDATING and s.hit_total > s.hits_emitted:
                    # New matching calls while firing: passed on at once, whatever the repeat interval,
                    # so they attach to the open incident (or, once it is over, open a repeat).
                    out.append(Fired(mon.d, group, alert(mon, group, s, now, only=fresh(s)), update=True))
            elif s.state == "firing":
                # Hysteresis: resolved only once clear for `recover_after` (a flap keeps it firing).
                if s.clear_since is None:
                    s.clear_since = now
                if (now - s.clear_since).total_seconds() >= mon.d.recover_minutes * 60:
                    s.state, s.clear_since = "ok", None
                    out.append(Fired(mon.d, group, alert(mon, group, s, now, resolved=True), resolved=True))
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
                    groups.append({"group": group, "value": rounded(v["value"]), "baseline": rounded(v["baseline"]),
                                   "ratio": rounded(v["ratio"]), "volume": v["volume"],
                                   "state": self.unconfirmed.get((mon, group), s.state),
                                   "last_fired": s.last_fired, "clear_since": s.clear_since})
                groups.sort(key=lambda g: (g["state"] != "firing", g["group"]))
                out.append({"name": mon.d.name, "definition": mon.d.public(), "alerts_fired": mon.alerts_fired,
                            "groups": groups[:limit_groups], "group_count": len(groups)})
        return out
