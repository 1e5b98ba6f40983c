"""ControlState.for_request, scope matching and the rate limiter: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fireline.config import AppConfig
from fireline.controls.state import Control, ControlState, RateLimiter, counter_key, rate_key

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
APPS = {"bot": AppConfig(fallback="paused", models=["m3", "m2", "m1"], prompts={"v2": "new", "v1": "old"},
                         tools={"refund": "write", "lookup": "read", "cancel": "write"})}
_n = 0


def ctl(kind: str, scope: dict[str, str] | None = None, params: dict[str, Any] | None = None,
        expires_at: datetime | None = None) -> Control:
    global _n
    _n += 1
    return Control(id=f"c{_n}", kind=kind, scope=scope or {}, params=params or {}, incident_id=None,
                   actor="t", reason=None, created_at=NOW, expires_at=expires_at, revision=_n)


def enf(controls: list[Control], **req: Any) -> Any:
    req.setdefault("app", "bot")
    return ControlState(len(controls), controls, APPS).for_request(**req)


def test_no_controls_means_normal_behaviour_with_the_app_fallback() -> None:
    e = enf([])
    assert not e.active and e.kill is None and e.fallback_message == "paused"


def test_kill_switch_message_overrides_the_app_fallback() -> None:
    e = enf([ctl("kill_switch", {"app": "bot"}, {"message": "down for now"})])
    assert e.kill is not None and e.fallback_message == "down for now"
    assert enf([ctl("kill_switch", {"app": "bot"})]).fallback_message == "paused"


def test_kill_switch_on_another_app_does_not_apply() -> None:
    assert enf([ctl("kill_switch", {"app": "other"})]).kill is None


def test_read_only_disables_every_write_tool_and_disable_tool_adds_one() -> None:
    ro, dt = ctl("read_only", {"app": "bot"}), ctl("disable_tool", {"app": "bot", "tool": "lookup"})
    e = enf([ro, dt])
    assert e.disabled_tools == {"refund": ro, "cancel": ro, "lookup": dt}
    assert e.read_only is ro and not e.tool_allowed("refund") and e.tool_allowed("other")


def test_pins_resolve_the_model_and_the_prompt_text() -> None:
    e = enf([ctl("model_pin", {"app": "bot"}, {"model": "m2"}), ctl("prompt_pin", {"app": "bot"}, {"version": "v1"})])
    assert e.model is not None and e.model[1] == "m2"
    assert e.prompt is not None and e.prompt[1:] == ("v1", "old")


def test_more_specific_pin_wins_then_newest() -> None:
    app_pin = ctl("model_pin", {"app": "bot"}, {"model": "m2"})
    tenant_pin = ctl("model_pin", {"app": "bot", "tenant": "acme"}, {"model": "m1"})
    newer = ctl("model_pin", {"app": "bot"}, {"model": "m3"})
    assert enf([tenant_pin, app_pin], tenant="acme").model[1] == "m1"
    assert enf([tenant_pin, app_pin], tenant="beta").model[1] == "m2"
    assert enf([app_pin, newer]).model[1] == "m3"


def test_expired_controls_are_ignored() -> None:
    old = ctl("kill_switch", {"app": "bot"}, expires_at=NOW - timedelta(seconds=1))
    later = ctl("kill_switch", {"app": "bot"}, expires_at=NOW + timedelta(hours=1))
    state = ControlState(2, [old, later], APPS)
    assert state.for_request(app="bot", now=NOW).kill is later
    assert state.for_request(app="bot", now=NOW + timedelta(hours=2)).kill is None


def test_block_patterns_are_compiled_with_their_side() -> None:
    e = enf([ctl("block_pattern", {"app": "bot"}, {"pattern": r"secret-\d+", "on": "input"})])
    (_, pattern, side), = e.block_patterns
    assert side == "input" and pattern.search("my secret-42")


def test_inject_applies_only_to_its_cohort() -> None:
    inj = ctl("inject", {"app": "bot"}, {"output": "bad", "cohort": "drill"})
    assert enf([inj], cohort="drill").inject is inj
    assert enf([inj], cohort=None).inject is None
    assert enf([ctl("inject", {"app": "bot", "cohort": "drill"}, {"output": "x"})], cohort="other").inject is None


def test_rate_limits_and_guardrails_are_all_returned() -> None:
    r1, r2 = ctl("rate_limit", {}, {"per_minute": 5}), ctl("rate_limit", {"app": "bot"}, {"per_minute": 9})
    g = ctl("guardrail_threshold", {"app": "bot"}, {"action": "block"})
    e = enf([r1, r2, g])
    assert set(e.rate_limits) == {r1, r2} and e.guardrails == (g,)


REQ_KEYS = ("app", "model", "tenant", "user", "cohort")
values = st.sampled_from(["a", "b", "c"])


@given(scope=st.dictionaries(st.sampled_from(REQ_KEYS), values),
       req=st.fixed_dictionaries({k: st.one_of(st.none(), values) for k in REQ_KEYS}))
def test_scope_matches_exactly_when_every_scoped_key_equals_the_request(scope: dict[str, str],
                                                                        req: dict[str, str | None]) -> None:
    control = ctl("kill_switch", scope)
    expected = all(req[k] == v for k, v in scope.items())
    assert control.matches(**req) is expected
    app = req["app"] or "z"
    state = ControlState(1, [control], APPS)
    got = state.for_request(app=app, user=req["user"], tenant=req["tenant"], model=req["model"],
                            cohort=req["cohort"])
    assert (got.kill is control) is all((app if k == "app" else req[k]) == v for k, v in scope.items())


@given(tool=st.sampled_from(["refund", "lookup", "x"]), user=st.one_of(st.none(), values))
def test_tool_and_global_keys_do_not_filter_requests(tool: str, user: str | None) -> None:
    control = ctl("disable_tool", {"tool": tool})
    assert enf([control], user=user).disabled_tools == {tool: control}


def test_for_request_looks_only_at_its_app_and_answers_repeats_from_memory(monkeypatch: Any) -> None:
    """Why a lookup costs microseconds (the figure: bench/lookups.py): controls are indexed by app,
    and a repeated request is a memo hit that examines no control at all."""
    controls = [ctl("kill_switch", {"app": f"app{i}"}) for i in range(200)]
    limits = [ctl("rate_limit", {"app": "bot", "user": f"u{i}"}, {"per_minute": 5}) for i in range(200)]
    everywhere = ctl("guardrail_threshold", {}, {"action": "block"})
    state = ControlState(1, [*controls, *limits, everywhere], APPS)
    examined: list[str] = []
    matches = Control.matches

    def counting(self: Control, **request: Any) -> bool:
        examined.append(self.id)
        return matches(self, **request)

    monkeypatch.setattr(Control, "matches", counting)
    first = state.for_request(app="bot", user="u7", tenant="t")
    assert first.rate_limits == (limits[7],) and first.guardrails == (everywhere,) and first.kill is None
    assert sorted(examined) == sorted(c.id for c in [*limits, everywhere])  # no other app's control
    examined.clear()
    assert state.for_request(app="bot", user="u7", tenant="t") is first
    assert examined == []
    assert state.for_request(app="app3").kill is controls[3]


def test_rate_limiter_allows_per_minute_then_answers_retry_after() -> None:
    limiter, c = RateLimiter(), ctl("rate_limit", {}, {"per_minute": 3})
    t = 6000.0  # the start of a window
    assert [limiter.check(c, "user:a", t + i) for i in range(3)] == [None, None, None]
    wait = limiter.check(c, "user:a", t + 3)
    assert wait is not None and 0 < wait <= 60
    assert limiter.check(c, "user:b", t + 3) is None  # counted per key
    assert limiter.check(c, "user:a", t + 200) is None  # long after: allowed again


def test_rate_key_is_user_unless_tenant_is_asked() -> None:
    per_user = ctl("rate_limit", {}, {"per_minute": 1})
    alice = rate_key(per_user, user="alice@example.com", tenant="t")
    # per user, stable, and the counter (a Redis key too) never holds the raw user id
    assert alice is not None and alice.startswith("user:") and "alice" not in alice
    assert alice == rate_key(per_user, user="alice@example.com", tenant="u")
    assert alice != rate_key(per_user, user="bob", tenant="t")
    assert rate_key(ctl("rate_limit", {}, {"per_minute": 1, "key": "tenant"}), user="u", tenant="t") == "tenant:t"
    assert rate_key(ctl("rate_limit", {"tenant": "t"}, {"per_minute": 1}), user="u", tenant="t") == "tenant:t"
    assert rate_key(ctl("rate_limit", {}, {"per_minute": 1}), user=None, tenant="t") is None
    # Requests without the attribute share one bucket of their own (gateway and SDK alike), never
    # another user's or tenant's, and are not let through unlimited.
    assert counter_key(ctl("rate_limit", {}, {"per_minute": 1}), user=None, tenant="t") == "user:anonymous"
    assert counter_key(ctl("rate_limit", {}, {"per_minute": 1, "key": "tenant"}), user="u",
                       tenant=None) == "tenant:anonymous"


def test_state_round_trips_through_json_for_the_sdk() -> None:
    controls = [ctl("kill_switch", {"app": "bot"}, {"message": "m"}, expires_at=NOW + timedelta(days=3650)),
                ctl("read_only", {"app": "bot"})]
    state = ControlState(7, controls, APPS)
    back = ControlState.from_json(state.to_json())
    assert back.revision == 7 and back.controls == state.controls
    assert back.for_request(app="bot").disabled_tools.keys() == {"refund", "cancel"}
    assert back.apps_json()["bot"]["models"] == ["m3", "m2", "m1"]
