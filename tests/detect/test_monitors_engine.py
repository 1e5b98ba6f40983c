"""The monitor engine alone, on a fake clock: baselines, re-firing, resolving, drops, limits."""

from __future__ import annotations

from typing import Any

import pytest

from fireline.detect.facts import Fact
from fireline.detect.firing import Fired
from fireline.detect.monitor_defs import MonitorDef, load_monitors
from fireline.detect.monitors import Engine

T0 = 1_900_000_000.0  # a fixed "now" in seconds
MIN = 60.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def monitor(**over: Any) -> MonitorDef:
    base: dict[str, Any] = {"name": "refusals", "signal": "findings", "match": {"detector": ["refusal"]},
                            "window": "10m", "condition": "ratio >= 3", "min_volume": 20, "min_count": 5,
                            "baseline": {"days": 7, "default": 0.02, "floor": 0.01, "min_volume": 200},
                            "type": "capability_loss", "severity": "P2"}
    base.update(over)
    return load_monitors([base], defaults=[])[0]


def make(defs: list[MonitorDef]) -> tuple[Engine, list[Fired], Clock]:
    out: list[Fired] = []
    clock = Clock()
    return Engine(defs, out.extend, clock=clock), out, clock


_n = iter(range(10**9))


def fact(at: float, refusal: bool = False, app: str = "bot", **over: Any) -> Fact:
    f = Fact(id=f"c{next(_n)}", minute=int(at // 60), app=app, tenant="acme", model="m1", prompt_version="v1",
             tools=(), findings=({"detector": "refusal", "kind": "refusal", "location": "output",
                                  "severity": "P3", "tool": None},) if refusal else ())
    for k, v in over.items():
        setattr(f, k, v)
    return f


def stream(engine: Engine, start: float, end: float, n: int, every: int = 0, **over: Any) -> list[Fact]:
    facts = [fact(start + (end - start) * i / n, refusal=bool(every) and i % every == 0, **over) for i in range(n)]
    engine.observe(facts)
    return facts


def fired(out: list[Fired]) -> list[Fired]:
    """New firings (not resolutions, not the new calls of a group that fires already)."""
    return [f for f in out if not f.resolved and not f.update]


def test_spike_fires_once_with_linked_calls_and_steady_traffic_does_not() -> None:
    engine, out, clock = make([monitor()])
    stream(engine, T0 - 7 * 86400, T0 - 3600, 400, every=50)  # 2% history
    stream(engine, T0 - 300, T0 - 1, 60, every=30)  # 2 of 60: normal
    assert out == []
    spike = stream(engine, T0 - 30, T0, 20, every=1)
    [f] = fired(out)
    assert f.alert.dedup_key == "monitor:refusals:app=bot"
    assert set(f.alert.call_ids) >= {x.id for x in spike}
    assert f.alert.details["baseline"] == pytest.approx(8 / 400)
    assert f.alert.type == "capability_loss" and f.alert.severity == "P2"
    stream(engine, T0 - 20, T0, 20, every=1)  # still spiking within the window: no second alert
    assert len(fired(out)) == 1


def test_refires_once_per_window_while_firing_then_resolves() -> None:
    engine, out, clock = make([monitor(window="10m")])
    stream(engine, T0 - 60, T0, 40, every=1)
    assert len(fired(out)) == 1
    for step in range(1, 10):  # keep spiking for 9 more minutes
        clock.t = T0 + step * MIN
        stream(engine, clock.t - 30, clock.t, 10, every=1)
        engine.tick()
    assert len(fired(out)) == 1
    clock.t = T0 + 10 * MIN + 1
    stream(engine, clock.t - 30, clock.t, 10, every=1)
    engine.tick()
    assert len(fired(out)) == 2, "re-published after one window"
    first, second = (set(f.alert.call_ids) for f in fired(out))
    assert second - first, "the re-fire links the calls that came since"
    clock.t += 25 * MIN  # the refusals slide out of the window
    stream(engine, clock.t - 60, clock.t, 40)
    engine.tick()
    assert not out[-1].resolved, "clear since this tick: still firing for recover_after (15m)"
    clock.t += 15 * MIN
    engine.tick()
    assert [f.resolved for f in out][-1] is True
    assert out[-1].alert.dedup_key == "monitor:refusals:app=bot"


def test_history_of_high_rate_is_the_baseline_not_a_spike() -> None:
    engine, out, _ = make([monitor()])
    stream(engine, T0 - 7 * 86400, T0 - 3600, 1000, every=4)  # this app always refuses 25%
    stream(engine, T0 - 300, T0, 60, every=4)
    assert out == []


def test_without_history_the_fixed_default_and_floor_apply() -> None:
    engine, out, _ = make([monitor()])
    stream(engine, T0 - 300, T0, 60, every=30)  # brand-new app, 3% refusals: 1.5x default 2%
    assert out == []
    stream(engine, T0 - 60, T0, 20, every=1)
    [f] = fired(out)
    assert f.alert.details["baseline"] == pytest.approx(0.02)  # default, as the history is too thin


def test_floor_keeps_a_near_zero_baseline_from_firing_on_noise() -> None:
    engine, out, _ = make([monitor(min_count=1)])
    stream(engine, T0 - 7 * 86400, T0 - 3600, 1000)  # never refused: trailing rate 0
    stream(engine, T0 - 300, T0, 60, every=60)  # one refusal in 60 = 1.7% < 3 x floor 1%
    assert out == []


def test_min_volume_and_min_count_gate_small_windows() -> None:
    engine, out, _ = make([monitor()])
    stream(engine, T0 - 60, T0, 4, every=1)  # 100% refusals but only 4 calls
    assert out == []


def test_groups_are_separate_dedup_keys() -> None:
    engine, out, _ = make([monitor(group_by=["app", "model"])])
    stream(engine, T0 - 60, T0, 30, every=1, app="a")
    stream(engine, T0 - 60, T0, 30, app="b")
    assert {f.alert.dedup_key for f in out} == {"monitor:refusals:app=a,model=m1"}


def test_drop_in_volume_fires_on_the_clock() -> None:
    drop = monitor(name="drop", signal="calls", match={}, condition="ratio <= 0.2", min_volume=0, min_count=0,
                   baseline={"days": 7, "default": 0, "floor": 0, "min_volume": 1000}, type="availability")
    engine, out, clock = make([drop])
    stream(engine, T0 - 7 * 86400, T0 - 600, 7 * 24 * 100)  # 100 calls an hour for a week
    stream(engine, T0 - 600, T0, 17)  # the last 10 minutes as usual
    engine.tick()
    assert out == []
    clock.t = T0 + 11 * MIN  # then nothing arrives: only the clock can notice
    engine.tick()
    [f] = fired(out)
    assert f.alert.dedup_key == "monitor:drop:app=bot" and f.alert.type == "availability"


def test_latency_p99_and_cost_sum_link_the_worst_calls() -> None:
    lat = monitor(name="p99", signal="latency", match={}, condition="ratio >= 2", min_count=0, min_value=1000,
                  baseline={"days": 7, "default": 10000, "floor": 200, "min_volume": 200}, type="availability")
    cost = monitor(name="cost", signal="cost", match={}, window="1h", condition="ratio >= 2", min_count=0,
                   min_value=1.0, min_volume=0, baseline={"days": 7, "default": 5, "floor": 0.5, "min_volume": 200},
                   type="cost_runaway")
    engine, out, _ = make([lat, cost])
    stream(engine, T0 - 7 * 86400, T0 - 7200, 500, latency=800.0, cost=0.01)
    stream(engine, T0 - 300, T0, 60, latency=900.0, cost=0.01)
    assert out == []
    slow = stream(engine, T0 - 60, T0, 5, latency=15000.0, cost=0.01)
    pricey = stream(engine, T0 - 60, T0, 5, latency=800.0, cost=2.0)
    keys = {f.alert.dedup_key: f.alert for f in fired(out)}
    assert set(keys) == {"monitor:p99:app=bot", "monitor:cost:app=bot"}
    assert set(keys["monitor:p99:app=bot"].call_ids[:5]) == {f.id for f in slow}
    assert set(keys["monitor:cost:app=bot"].call_ids[:5]) == {f.id for f in pricey}


def test_future_timestamps_count_as_now_and_old_ones_only_as_history() -> None:
    engine, out, _ = make([monitor(min_count=1, min_volume=1, condition="any")])
    engine.observe([fact(T0 - 86400, refusal=True)])  # yesterday's refusal: history only
    assert out == []
    engine.observe([fact(T0 + 3600, refusal=True)])  # an hour ahead of our clock: now
    assert len(fired(out)) == 1


def test_snapshot_lists_groups_with_state() -> None:
    engine, out, _ = make([monitor()])
    stream(engine, T0 - 60, T0, 30, every=1)
    [m] = engine.snapshot()
    assert m["name"] == "refusals" and m["definition"]["condition"] == "ratio >= 3"
    [g] = m["groups"]
    assert g["group"] == "app=bot" and g["state"] == "firing" and g["value"] == 1.0 and g["volume"] == 30


def test_a_firing_shows_only_once_its_alert_is_recorded() -> None:
    """While the alert is being written nobody sees "firing"; when the write fails (unfire) the
    group stays "ok" throughout; when it succeeds it shows "firing" afterwards."""
    seen: list[str] = []
    outcome = {"recorded": False}

    def emit(fired_now: list[Fired]) -> None:
        seen.append(engine.snapshot()[0]["groups"][0]["state"])  # another thread's read, mid-write
        if not outcome["recorded"]:
            engine.unfire(fired_now)

    engine = Engine([monitor()], emit, clock=Clock())
    stream(engine, T0 - 60, T0, 30, every=1)
    assert seen == ["ok"] and engine.snapshot()[0]["groups"][0]["state"] == "ok"
    outcome["recorded"] = True
    engine.tick()  # the clock retries the group whose alert was not recorded
    assert seen == ["ok", "ok"] and engine.snapshot()[0]["groups"][0]["state"] == "firing"
