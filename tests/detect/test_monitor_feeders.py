"""The engine's fast ingest path (per-family group lookup, lean per-signal feeders) counts, links and
fires exactly like the plain per-monitor path it replaced, on random streams of calls and reports.

The reference below is the engine's batch loop as it was before the fast path: every monitor's
generic `Monitor.collect`, group names built per call by `Monitor.groups`. Both engines see the same
facts on the same clock; after every batch (and every tick) their series, linked calls and firings
must be identical, in the same order.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from itertools import count as counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.detect.facts import Fact
from fireline.detect.firing import Fired
from fireline.detect.monitor import Monitor
from fireline.detect.monitor_defaults import DEFAULTS
from fireline.detect.monitor_defs import load_monitors
from fireline.detect.monitors import Engine

T0 = 1_900_000_020.0

# Extra definitions that reach the other paths: a filter (where), tool and cohort groups on plain
# signals, the calls signal, and thresholds low enough that random streams fire and resolve.
EXTRA: list[dict[str, Any]] = [
    {"name": "errors_where", "signal": "errors", "match": {"status": ["error", "timeout"]}, "window": "5m",
     "condition": "ratio >= 1.5", "min_volume": 3, "min_count": 1, "where": {"model": ["m1"]},
     "baseline": {"days": 1, "default": 0.05, "floor": 0.01, "min_volume": 5}, "group_by": ["app", "tool"],
     "type": "availability", "severity": "P2"},
    {"name": "latency_cohort", "signal": "latency", "window": "5m", "condition": "ratio >= 1.2", "min_volume": 2,
     "min_count": 0, "min_value": 1, "baseline": {"days": 1, "default": 100, "floor": 1, "min_volume": 3},
     "group_by": ["app", "cohort"], "type": "availability", "severity": "P2"},
    {"name": "cost_tool", "signal": "cost", "window": "5m", "condition": "ratio >= 1.2", "min_count": 0,
     "min_value": 0.1, "baseline": {"days": 1, "default": 0.5, "floor": 0.1, "min_volume": 3},
     "group_by": ["tool", "tenant"], "type": "cost_runaway", "severity": "P2"},
    {"name": "calls_all", "signal": "calls", "window": "5m", "condition": "ratio >= 1.5", "min_count": 2,
     "baseline": {"days": 1, "default": 1, "floor": 1, "min_volume": 3}, "group_by": [],
     "type": "availability", "severity": "P3"},
    {"name": "calls_drop", "signal": "calls", "window": "5m", "condition": "ratio <= 0.5", "min_count": 0,
     "baseline": {"days": 1, "default": 0, "floor": 0, "min_volume": 3}, "type": "availability",
     "severity": "P3"},
    {"name": "length_fast", "signal": "distribution", "feature": "output_tokens", "aggregate": "mean",
     "window": "5m", "condition": "ratio >= 1.1", "min_volume": 2, "min_count": 0,
     "baseline": {"days": 1, "default": 0, "floor": 1, "min_volume": 3}, "group_by": ["app", "route"],
     "where": {"app": ["a"]}, "type": "quality_degradation", "severity": "P2"},
    {"name": "language_fast", "signal": "distribution", "feature": "output_language", "window": "5m",
     "condition": "value >= 0.05", "min_volume": 2, "min_count": 0, "baseline": {"days": 1, "min_volume": 3},
     "group_by": ["model", "cohort"], "type": "quality_degradation", "severity": "P2"},
    {"name": "refusal_fast", "signal": "findings", "match": {"detector": ["refusal"]}, "window": "5m",
     "condition": "ratio >= 1.5", "min_volume": 2, "min_count": 1,
     "baseline": {"days": 1, "default": 0.05, "floor": 0.01, "min_volume": 3}, "group_by": ["app", "tool"],
     "type": "capability_loss", "severity": "P2"},
    {"name": "thumbs_fast", "signal": "reports", "match": {"report_kind": ["thumbs_down"]}, "aggregate": "rate",
     "window": "5m", "condition": "ratio >= 1.5", "min_volume": 2, "min_count": 1,
     "baseline": {"days": 1, "default": 0.05, "floor": 0.01, "min_volume": 3}, "type": "quality_degradation",
     "severity": "P2"},
]

FINDINGS = [
    {"detector": "refusal", "kind": "refusal", "location": "output", "severity": "P3", "tool": None},
    {"detector": "guardrail", "kind": "output_block", "location": "output", "severity": "P1", "tool": None},
    {"detector": "pii", "kind": "pii_egress", "location": "tool", "severity": "P1", "tool": "search"},
    {"detector": "tool_policy", "kind": "argument_anomaly", "location": "tool", "severity": "P2", "tool": "refund"},
    {"detector": "output_quality", "kind": "garbled_output", "location": "output", "severity": "P2", "tool": None},
    {"detector": "grounding", "kind": "unsupported_claim", "location": "output", "severity": "P3", "tool": None},
]
FEATURES = ["output_tokens", "output_language", "output_script", "input_tokens", "input_language", "input_topic"]


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def reference_observe(self: Engine, facts: list[Fact], *, count: bool = True) -> None:
    """Engine.observe before the fast path (kept verbatim as the oracle)."""
    now_minute = self.now_minute()
    dens: dict[Any, dict[tuple[str, int], int]] = {gb: {} for gb in self.group_bys}
    acc: dict[tuple[Monitor, str, int], list[Any]] = {}
    oldest = now_minute - self.reach
    with self.lock:
        for fact in facts:
            if fact.minute > now_minute:
                fact.minute = now_minute
            elif fact.minute < oldest:
                continue
            by_keys: dict[Any, list[str]] = {}
            for gb, slots in dens.items():
                first = self.monitors_by_gb[gb]
                if first.filtered and not first.admits(fact):
                    by_keys[gb] = []
                    continue
                groups = by_keys[gb] = first.groups(fact)
                if fact.report_kind is None:
                    for g in groups:
                        slots[(g, fact.minute)] = slots.get((g, fact.minute), 0) + 1
            if fact.report_kind is not None:
                feeding = self.report_monitors
            elif fact.findings:
                feeding = self.call_monitors
            else:
                feeding = self.plain_monitors
            for mon in feeding:
                groups = by_keys[mon.family]
                if groups:
                    mon.collect(fact, groups, acc)
        touched: dict[tuple[Monitor, str], None] = {}
        if not count:
            for (mon, group, _), _slot in acc.items():
                touched[(mon, group)] = None
            dens = {gb: {} for gb in self.group_bys}
            acc = {}
        for mon in self.monitors:
            if mon.d.signal not in ("latency", "distribution"):
                for (group, minute), den in dens[mon.family].items():
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
        self.emit(fired)


def state(engine: Engine) -> list[Any]:
    out = []
    for mon in engine.monitors:
        for group, s in mon.series.items():  # insertion order included: it orders the clock's firings
            out.append((mon.d.name, group, sorted((m, b.num, b.den, sorted((b.bins or {}).items()))
                                                  for m, b in s.buckets.items()),
                        list(s.hits), s.hit_total, s.hits_emitted, s.state, s.usual,
                        (s.window.lo, s.window.hi, s.window.num, s.window.den, sorted(s.window.bins.items())),
                        (s.history.lo, s.history.hi, s.history.num, s.history.den, sorted(s.history.bins.items()))))
    return out


def firings(out: list[Fired]) -> list[Any]:
    return [(f.monitor.name, f.group, f.resolved, f.update, f.before, f.alert) for f in out]


fact_params = st.fixed_dictionaries({
    # mostly inside the last windows, some in the baseline day, a few too old to count
    "minute": st.one_of(st.integers(-6, 2), st.integers(-6, 2), st.integers(-1500, -6), st.just(-10**6)),
    "app": st.sampled_from(["a", "b"]),
    "tenant": st.sampled_from([None, "t1", "t2"]),
    "model": st.sampled_from([None, "m1", "m2"]),
    "alias": st.sampled_from([None, "gpt-4o"]),
    "prompt_version": st.sampled_from([None, "v1", "v2"]),
    "route": st.sampled_from([None, "/chat"]),
    "tools": st.lists(st.sampled_from(["search", "refund"]), unique=True, max_size=2).map(tuple),
    "status": st.sampled_from(["ok", "ok", "ok", "error", "timeout", "contained", "blocked"]),
    "cost": st.one_of(st.none(), st.just(0.0), st.floats(-0.5, 3.0, allow_nan=False)),
    "latency": st.one_of(st.none(), st.just(0.0), st.floats(0.0, 20000.0, allow_nan=False)),
    "findings": st.lists(st.sampled_from(FINDINGS), max_size=2).map(tuple),
    "report_kind": st.sampled_from([None, None, None, None, "thumbs_down", "harmful"]),
    "attrs": st.one_of(st.none(), st.just({}), st.sampled_from([{"cohort": "A"}, {"cohort": "B"}])),
    "features": st.one_of(st.none(), st.dictionaries(
        st.sampled_from(FEATURES), st.tuples(st.integers(0, 4), st.floats(0.0, 400.0, allow_nan=False)), min_size=4)),
    "session": st.sampled_from([None, "s1"]),
})



def history(rng: random.Random, n: int, shift: int = 0, recent: bool = False) -> list[dict[str, Any]]:
    """Plainer traffic: a baseline day (so windows are judged against trusted baselines), or recent
    traffic shifted by `shift` (longer, slower, costlier, other bins, more errors) that fires."""
    return [{"minute": -rng.randint(0, 4) if recent else -rng.randint(6, 1400), "app": rng.choice("ab"),
             "tenant": "t1",
             "model": rng.choice(["m1", "m2"]), "alias": "gpt-4o", "prompt_version": "v1", "route": None,
             "tools": rng.choice([(), ("search",)]),
             "status": rng.choice(["ok"] * 20 + ["error"] * (1 + 5 * shift) + ["contained"]),
             "cost": rng.random() * 0.2 * (1 + shift), "latency": rng.random() * 500 * (1 + shift),
             "findings": (FINDINGS[0],) if rng.random() < 0.05 * (1 + shift) else (),
             "report_kind": "thumbs_down" if rng.random() < 0.03 else None, "attrs": {"cohort": rng.choice("AB")},
             "features": {f: (rng.randint(shift, shift + 1), rng.random() * 50 * (1 + shift)) for f in FEATURES},
             "session": None}
            for _ in range(n)]


batches_st = st.lists(st.tuples(st.integers(0, 900), st.booleans(), st.lists(fact_params, max_size=30),
                                st.integers(0, 3)),
                      min_size=1, max_size=5)


def twins(defs: Any) -> tuple[Engine, Engine, tuple[Clock, Clock], tuple[list[Fired], list[Fired]]]:
    """Two engines over the same monitors, each with its own clock and list of firings (for `lockstep`)."""
    clocks = (Clock(), Clock())
    outs: tuple[list[Fired], list[Fired]] = ([], [])
    fast, ref = (Engine(defs, out.extend, clock=clock) for out, clock in zip(outs, clocks, strict=True))
    return fast, ref, clocks, outs


def lockstep(fast: Engine, ref: Engine, clocks: tuple[Clock, Clock], outs: tuple[list[Fired], list[Fired]],
             batches: list[Any], seed: int, ref_observe: Callable[[list[Fact], bool], object],
             each: Callable[[], bool] = lambda: True) -> None:
    """Feeds both engines the same facts batch by batch (after two batches of history), ticking both,
    and asserts the same firings after each observe and tick (and `each()` after every batch)."""
    ids = counter()
    rng = random.Random(seed)
    warm = [(0, True, history(rng, 120), 0) for _ in range(2)]
    for advance, counted, params, shift in warm + batches:
        params = params + history(rng, 25 if shift else 0, shift, recent=True)
        rng.shuffle(params)
        clocks[0].t = clocks[1].t = clocks[0].t + advance
        now_minute = fast.now_minute()
        facts = [Fact(id=f"c{next(ids)}", **{**p, "minute": now_minute + p["minute"]}) for p in params]
        fast.observe([copy.copy(f) for f in facts], count=counted or len(facts) % 3 != 0)
        ref_observe([copy.copy(f) for f in facts], counted or len(facts) % 3 != 0)
        assert firings(outs[0]) == firings(outs[1])
        fast.tick()
        ref.tick()
        assert firings(outs[0]) == firings(outs[1])
        assert each()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches=batches_st, seed=st.integers(0, 2**32))
def test_fast_path_counts_links_and_fires_like_the_reference(batches: list[Any], seed: int) -> None:
    defs = load_monitors([{"name": "traffic_drop", "enabled": True}], defaults=[*DEFAULTS, *EXTRA])
    fast, ref, clocks, outs = twins(defs)
    lockstep(fast, ref, clocks, outs, batches, seed,
             lambda facts, count: reference_observe(ref, facts, count=count), each=lambda: state(fast) == state(ref))


def test_unhashable_key_values_are_grouped_like_hashable_ones() -> None:
    """A fact whose tools came as a list (not a tuple) is counted in the same groups."""
    defs = load_monitors(None, defaults=[d for d in EXTRA if d["name"] in ("errors_where", "refusal_fast")])
    out: list[Fired] = []
    engine = Engine(defs, out.extend, clock=Clock())
    now = engine.now_minute()
    engine.observe([Fact(id="x", minute=now, app="a", tenant=None, model="m1", prompt_version=None,
                         tools=["search", "refund"], status="error")])  # type: ignore[arg-type]
    errors = next(m for m in engine.monitors if m.d.name == "errors_where")
    assert {g: s.buckets[now].num for g, s in errors.series.items()} == {"app=a,tool=search": 1.0,
                                                                          "app=a,tool=refund": 1.0}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches=batches_st, seed=st.integers(0, 2**32))
def test_groups_left_unevaluated_could_not_have_fired(batches: list[Any], seed: int) -> None:
    """`_evaluate` skips an "ok" group whose numerator was always 0 for a monitor that cannot fire at 0
    (`Monitor.quiet_at_zero`): the same firings after every batch and tick, and the same series and
    fresh values once evaluated, as evaluating every group."""
    extra = [*EXTRA,  # and the edges of the rule: a count at min_count 0, a threshold of 0
             {"name": "zero_threshold", "signal": "findings", "match": {"detector": ["canary"]}, "window": "5m",
              "condition": "value >= 0", "min_count": 0, "baseline": {"days": 1, "min_volume": 3},
              "type": "data_leakage", "severity": "P1"},
             {"name": "count_zero_min", "signal": "errors", "match": {"status": ["timeout"]}, "aggregate": "count",
              "window": "5m", "condition": "ratio >= 2", "min_count": 0,
              "baseline": {"days": 1, "default": 0, "floor": 0, "min_volume": 3}, "type": "availability",
              "severity": "P3"},
             {"name": "disparity_fast", "signal": "findings", "match": {"detector": ["refusal"]},
              "compare": {"across": "cohort", "measure": "difference", "min_sample": 3, "alpha": 0.4},
              "window": "5m", "condition": "ratio >= 0.01", "min_count": 1, "group_by": ["app", "cohort"],
              "type": "bias", "severity": "P2"}]
    defs = load_monitors([{"name": "traffic_drop", "enabled": True}], defaults=[*DEFAULTS, *extra])
    fast, ref, clocks, outs = twins(defs)
    assert any(m.quiet_at_zero for m in fast.monitors)
    for m in ref.monitors:
        m.quiet_at_zero = False
    lockstep(fast, ref, clocks, outs, batches, seed,
             lambda facts, count: ref.observe(facts, count=count))
    # The unevaluated groups' ranges were not moved; once evaluated, they agree too.
    assert fast.snapshot() == ref.snapshot()
    assert state(fast) == state(ref)
