"""The monitor chart's alert stretches (`detect.chart`): replayed with the engine's hysteresis, they show
the alert firing through a flap and through the recovery period after the condition cleared, and
resolving only after `recover_after`, minute for minute as the live engine did; the raw condition's
stretches stay as they were."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.detect import chart
from fireline.detect.monitors import Engine
from tests.detect.test_hysteresis import FIRE_AT, Driven, calls_monitor
from tests.detect.test_monitors_engine import MIN, T0

HOT, COLD = FIRE_AT + 1, 0


def run(plan: list[int], recover: int = 15, recovery: int | None = None) -> tuple[Driven, list[bool]]:
    """Drives the engine minute by minute; returns it and its firing state after each minute."""
    d = Driven(recover, recovery)
    # a day of baseline, so the engine keeps the minutes the chart reads (a monitor without one forgets them)
    over: dict[str, Any] = {"recover_after": recover, "baseline": {"days": 1}}
    if recovery is not None:
        over["recovery"] = recovery
    d.engine = Engine([calls_monitor(**over)], d.out.extend, clock=d.clock)
    states = []
    for calls in plan:
        d.minute(calls)
        states.append(d.state() == "firing")
    return d, states


def series(d: Driven, minutes: int) -> dict[str, Any]:
    return chart.monitor_series(d.engine, "calls", "app=bot", hours=minutes / 60, step=1, now=d.clock.t)


def test_a_flap_stays_firing_through_its_recovery_period_and_resolves_after_recover_after() -> None:
    # fires at minute 3, clear 4 minutes (a flap), holds again 2 minutes, then clear for good
    plan = [COLD] * 2 + [HOT] * 3 + [COLD] * 4 + [HOT] * 2 + [COLD] * 25
    d, states = run(plan)
    got = series(d, len(plan))
    pts = got["points"]
    assert len(pts) == len(plan)
    assert [p["firing"] for p in pts] == [c >= FIRE_AT for c in plan]  # the raw condition, as before
    assert [p["alert"] for p in pts] == states  # the alert, as the engine had it
    # the condition held twice; the alert fired once, from the first hot minute through the flap and
    # 15 clear minutes after the last hot one, then resolved
    assert [(f["from"], f["to"]) for f in got["firing"]] == [(pts[1]["t"], pts[4]["t"]), (pts[8]["t"], pts[10]["t"])]
    (a,) = got["alerting"]
    assert a["source"] == "alert" and a["resolved"]
    # clear from minute 11 on: resolved at minute 11 + 15 (the point at index 26)
    assert a["from"] == pts[1]["t"] and a["clear_from"] == pts[10]["t"] and a["to"] == pts[26]["t"]
    assert all(p["alert"] for p in pts[2:26]) and not any(p["alert"] for p in pts[26:])
    assert [p["clear"] for p in pts[5:9]] == [True] * 4 and pts[2]["clear"] is False
    assert got["recovery"] is None and got["state"] == "ok"
    assert (d.fires, d.resolves) == (1, 1)


def test_a_group_in_its_recovery_period_says_when_it_resolves() -> None:
    d, states = run([COLD, HOT, HOT] + [COLD] * 6)
    got = series(d, 9)
    assert got["state"] == "firing" and states[-1]
    (a,) = got["alerting"]
    assert not a["resolved"] and a["to"] == got["points"][-1]["t"] and a["clear_from"] == got["points"][2]["t"]
    clear_minute = int((T0 + 4 * MIN + 30) // 60) * 60
    assert got["recovery"]["clear_since"] == chart._stamp(chart.datetime.fromtimestamp(T0 + 4 * MIN + 30, chart.UTC))
    assert chart._minute(got["recovery"]["resolves_at"]) * 60 == clear_minute + 15 * 60


def test_a_recovery_threshold_holds_the_alert_while_the_condition_is_clear() -> None:
    plan = [COLD, HOT, 4, 3, 4, 2, COLD]  # below the condition (5), not below the recovery threshold (3)
    d, states = run(plan, recover=0, recovery=3)
    pts = series(d, len(plan))["points"]
    assert [p["firing"] for p in pts] == [False, True, False, False, False, False, False]
    assert [p["alert"] for p in pts] == states == [False, True, True, True, True, False, False]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([COLD, 2, 3, 4, HOT]), min_size=1, max_size=60),
       st.sampled_from([0, 1, 3, 15]), st.sampled_from([None, 3]))
def test_the_replay_agrees_with_the_engine_minute_for_minute(plan: list[int], recover: int,
                                                             recovery: int | None) -> None:
    plan = [HOT, *plan]  # a first call: the group exists
    d, states = run(plan, recover, recovery)
    assert [p["alert"] for p in series(d, len(plan))["points"]] == states
    if recovery is None:  # a range starting mid-way: replayed from recover_after before it, it agrees too
        n = max(len(plan) // 2, 1)
        assert [p["alert"] for p in series(d, n)["points"]] == states[-n:]


def test_a_recorded_firing_the_minutes_cannot_show_marks_the_alert_from_its_step() -> None:
    """The condition held only within a minute (errors, then enough good calls in the same minute): the
    buckets never show it, the alert row does; the alert is firing from that step, clear from it, and
    resolves recover_after later."""
    plan = [2] * 30
    d, _ = run(plan, recover=15)
    at = chart.datetime.fromtimestamp(T0 + 5 * MIN + 40, chart.UTC)  # in the 5th minute driven (index 4)
    got = chart.monitor_series(d.engine, "calls", "app=bot", hours=0.5, step=1, now=d.clock.t,
                               fired=("app=bot", [at]))
    pts = got["points"]
    assert not any(p["firing"] for p in pts)
    assert [i for i, p in enumerate(pts) if p["alert"]] == list(range(4, 4 + 15))
    (a,) = got["alerting"]
    assert a["resolved"] and a["from"] == pts[3]["t"] and a["clear_from"] == a["from"] and a["to"] == pts[19]["t"]
    other = chart.monitor_series(d.engine, "calls", "app=bot", hours=0.5, step=1, now=d.clock.t,
                                 fired=("app=other", [at]))
    assert other["alerting"] == []  # another group's firings are not this one's
