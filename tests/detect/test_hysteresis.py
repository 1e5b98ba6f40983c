"""Hysteresis of the monitor engine (recover_after, recovery thresholds) against a model of it, on a
fake clock: a group fires as soon as its condition holds, and resolves only once the condition has
been clear (past the recovery threshold, when there is one) for `recover_after`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fireline.config_keys import ConfigError
from fireline.detect.facts import Fact
from fireline.detect.firing import Fired
from fireline.detect.monitor_defs import load_monitors
from fireline.detect.monitors import Engine
from tests.detect.test_monitors_engine import MIN, T0, Clock

FIRE_AT = 5  # calls in the minute's window: the condition `value >= 5`


def calls_monitor(**over: Any) -> Any:
    """Calls per one-minute window against a fixed threshold: the condition is what the test sends."""
    base: dict[str, Any] = {"name": "calls", "signal": "calls", "window": "1m", "condition": f"value >= {FIRE_AT}",
                            "min_count": 0, "baseline": {"days": 0}, "type": "availability", "severity": "P2"}
    return load_monitors([{**base, **over}], defaults=[])[0]


class Model:
    """The reference: fire on the condition, resolve after `recover` minutes clear."""

    def __init__(self, recover: int, recovery: int | None) -> None:
        self.recover, self.recovery = recover, recovery
        self.firing, self.clear_since = False, None
        self.fires = self.resolves = 0

    def minute(self, m: int, calls: int) -> None:
        threshold = self.recovery if self.firing and self.recovery is not None else FIRE_AT
        if calls >= threshold:
            self.clear_since = None
            if not self.firing:
                self.firing, self.fires = True, self.fires + 1
        elif self.firing:
            self.clear_since = m if self.clear_since is None else self.clear_since
            if m - self.clear_since >= self.recover:
                self.firing, self.clear_since, self.resolves = False, None, self.resolves + 1


class Driven:
    def __init__(self, recover: int, recovery: int | None) -> None:
        over: dict[str, Any] = {"recover_after": recover}
        if recovery is not None:
            over["recovery"] = recovery
        self.out: list[Fired] = []
        self.clock = Clock()
        self.engine = Engine([calls_monitor(**over)], self.out.extend, clock=self.clock)
        self.model = Model(recover, recovery)
        self.m = 0
        self.n = 0

    def minute(self, calls: int) -> None:
        self.m += 1
        self.clock.t = T0 + self.m * MIN + 30
        facts = []
        for _ in range(calls):
            self.n += 1
            facts.append(Fact(id=f"c{self.n}", minute=int(self.clock.t // 60), app="bot", tenant="acme",
                              model="m1", prompt_version="v1", tools=(), findings=()))
        self.engine.observe(facts)
        self.engine.tick()
        self.model.minute(self.m, calls)

    @property
    def fires(self) -> int:
        return sum(1 for f in self.out if not f.resolved and not f.update and f.before[0] == "ok")

    @property
    def resolves(self) -> int:
        return sum(1 for f in self.out if f.resolved)

    def state(self) -> str:
        s = self.engine.monitors[0].series.get("app=bot")
        return s.state if s is not None else "ok"


class Hysteresis(RuleBasedStateMachine):
    @initialize(recover=st.sampled_from([0, 1, 3, 15]), recovery=st.sampled_from([None, 2, 5]))
    def start(self, recover: int, recovery: int | None) -> None:
        self.d = Driven(recover, recovery)

    @rule(calls=st.integers(0, 8))
    def minute(self, calls: int) -> None:
        self.d.minute(calls)

    @rule(minutes=st.integers(1, 20))
    def quiet(self, minutes: int) -> None:
        for _ in range(minutes):
            self.d.minute(0)

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "d"):
            return
        d = self.d
        assert (d.fires, d.resolves) == (d.model.fires, d.model.resolves)
        assert d.state() == ("firing" if d.model.firing else "ok")
        kinds = [f.resolved for f in d.out if f.resolved or f.before[0] == "ok"]
        assert kinds == [i % 2 == 1 for i in range(len(kinds))], "fire, resolve, fire, ... never twice in a row"


TestHysteresis = Hysteresis.TestCase
TestHysteresis.settings = settings(max_examples=60, stateful_step_count=30)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(1, 14), st.integers(1, 14)), min_size=1, max_size=8))
def test_a_flap_shorter_than_recover_after_is_one_firing(bursts: list[tuple[int, int]]) -> None:
    """Bursts of firing minutes with clear gaps shorter than recover_after (15m): one firing, no
    resolve; then 15 clear minutes resolve it, and a spike after that fires anew (a repeat)."""
    d = Driven(15, None)
    for on, off in bursts:
        for _ in range(on):
            d.minute(FIRE_AT + 1)
        for _ in range(off):
            d.minute(0)
    assert (d.fires, d.resolves) == (1, 0)
    for _ in range(15):
        d.minute(0)
    assert (d.fires, d.resolves) == (1, 1)
    d.minute(FIRE_AT)
    assert (d.fires, d.resolves) == (2, 1)


def test_recover_after_zero_resolves_at_once_as_before() -> None:
    d = Driven(0, None)
    for calls in (6, 0, 6, 0):
        d.minute(calls)
    assert (d.fires, d.resolves) == (2, 2)


def test_a_recovery_threshold_holds_a_group_that_stays_above_it() -> None:
    d = Driven(0, 3)
    for calls in (6, 4, 3, 4, 3, 2):  # below the condition (5) but not below the recovery threshold (3)
        d.minute(calls)
    assert (d.fires, d.resolves) == (1, 1) and d.out[-1].resolved


def test_the_public_definition_shows_the_recovery() -> None:
    assert calls_monitor().public()["recover_after"] == "15m"
    assert calls_monitor(recover_after="0").public()["recover_after"] == "0m"
    pub = calls_monitor(recover_after="1h", recovery=3).public()
    assert pub["recover_after"] == "60m" and pub["recovery"] == 3


@pytest.mark.parametrize(("over", "message"), [
    ({"recovery": 6}, "monitors[0].recovery: 6 must be at most the condition's threshold (value >= 5)"),
    ({"condition": "ratio <= 0.2", "baseline": {"days": 7}, "recovery": 0.1},
     "monitors[0].recovery: 0.1 must be at least the condition's threshold (ratio <= 0.2)"),
    ({"condition": "any", "recovery": 1}, "monitors[0].recovery: a recovery threshold needs a threshold condition"),
    ({"recovery": -1}, "monitors[0].recovery:"),
    ({"recover_after": "soon"}, "monitors[0].recover_after: 'soon' is not a duration"),
    ({"recover_after": "8d"}, "monitors[0].recover_after: duration '8d' must be between 1 minute and 7 days"),
    ({"recover_after": "90s"}, "monitors[0].recover_after: '90s' is not a whole number of minutes"),
])
def test_bad_recovery_settings_name_their_field(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        calls_monitor(**over)
    assert str(exc.value).startswith(message), str(exc.value)


def test_a_default_monitor_takes_recovery_settings_from_yaml() -> None:
    (d,) = [m for m in load_monitors([{"name": "error_rate", "recovery": 2, "recover_after": "30m"}])
            if m.name == "error_rate"]
    assert (d.recovery, d.recover_minutes, d.condition.threshold) == (2, 30, 3)
