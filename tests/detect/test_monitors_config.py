"""The `monitors:` YAML section: durations, conditions, overrides, and errors that name the field."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fireline.config import ConfigError
from fireline.detect.monitor_defaults import DEFAULTS
from fireline.detect.monitor_defs import Condition, cohort_attributes, load_monitors
from fireline.durations import parse_minutes


@given(st.integers(1, 60 * 24 * 31))
def test_minutes_roundtrip(n: int) -> None:
    assert parse_minutes(n) == n
    assert parse_minutes(f"{n}m") == n
    if n % 60 == 0:
        assert parse_minutes(f"{n // 60}h") == n


@given(st.one_of(st.text(max_size=12), st.integers(-5, 0), st.floats(), st.booleans(), st.none()))
def test_bad_durations_raise_value_error_only(value: Any) -> None:
    try:
        minutes = parse_minutes(value)
    except ValueError:
        return
    assert 1 <= minutes <= 60 * 24 * 31


@given(st.sampled_from(["ratio >=", "ratio <=", "value >=", "value <="]),
       st.floats(0.001, 1e6, allow_nan=False, allow_infinity=False))
def test_condition_roundtrip(op: str, k: float) -> None:
    c = Condition.parse(f"{op} {k!r}")
    assert Condition.parse(str(c)).op == c.op
    assert c.threshold == pytest.approx(k)


@given(st.text(max_size=30))
def test_condition_parse_never_crashes(text: str) -> None:
    with contextlib.suppress(ValueError):
        Condition.parse(text)


def test_defaults_load_and_are_typed_per_taxonomy() -> None:
    mons = {m.name: m for m in load_monitors(None)}
    expect = {"output_guardrail_blocks": ("prompt_injection", "P1"), "harmful_reports": ("harmful_output", "P1"),
              "pii_secret_leak": ("data_leakage", "P1"), "canary_leak": ("data_leakage", "P0"),
              "tool_argument_anomaly": ("agentic_harm", "P2"), "refusal_rate": ("capability_loss", "P2"),
              "cost_per_hour": ("cost_runaway", "P2"), "latency_p99": ("availability", "P2"),
              "error_rate": ("availability", "P1"), "thumbs_down_rate": ("quality_degradation", "P2"),
              "harmful_output_rate": ("harmful_output", "P1"), "injection_wave": ("prompt_injection", "P2"),
              "jailbreak_compliance": ("policy_bypass", "P1"),
              "ungrounded_citations": ("hallucination", "P2"),
              "corrupted_output_rate": ("quality_degradation", "P2"), "output_length": ("quality_degradation", "P2"),
              "output_length_drop": ("quality_degradation", "P2"),
              "output_language_shift": ("quality_degradation", "P2"),
              "input_length_drift": ("distribution_shift", "P3"), "input_language_drift": ("distribution_shift", "P3"),
              "input_topic_drift": ("distribution_shift", "P3"), "refusal_disparity": ("bias", "P2"),
              "hallucination_rate": ("hallucination", "P2"), "tool_data_egress": ("data_leakage", "P1"),
              "semantic_jailbreak_wave": ("prompt_injection", "P2"), "complaint_rate": ("quality_degradation", "P2")}
    assert {n: (m.type, m.severity) for n, m in mons.items()} == expect
    blocks = mons["output_guardrail_blocks"]
    assert blocks.window == 10 and str(blocks.condition) == "ratio >= 5"
    assert mons["refusal_rate"].window == 30 and str(mons["refusal_rate"].condition) == "ratio >= 3"


def test_yaml_overrides_extend_and_disable() -> None:
    section = yaml.safe_load("""
- {name: refusal_rate, window: 15m, condition: ratio >= 4}
- {name: canary_leak, enabled: false}
- name: injection_wave
  signal: findings
  match: {detector: prompt_injection, location: [input]}
  window: 5m
  condition: value >= 0.3
  min_volume: 10
  group_by: [app, tenant]
  type: prompt_injection
  severity: P1
""")
    mons = {m.name: m for m in load_monitors(section)}
    assert "canary_leak" not in mons
    assert mons["refusal_rate"].window == 15 and mons["refusal_rate"].condition.threshold == 4
    assert mons["refusal_rate"].severity == "P2"  # untouched fields keep the default
    new = mons["injection_wave"]
    assert new.match.detector == ("prompt_injection",) and new.group_by == ("app", "tenant") and new.agg == "rate"


@pytest.mark.parametrize(("entry", "where"), [
    ({"name": "x", "signal": "findings", "condition": "any", "type": "data_leakage", "severity": "P9"}, "severity"),
    ({"name": "x", "signal": "findings", "condition": "sometimes", "type": "data_leakage", "severity": "P1"},
     "condition"),
    ({"name": "x", "signal": "findings", "condition": "any", "type": "meltdown", "severity": "P1"}, "type"),
    ({"name": "x", "signal": "findings", "condition": "any", "type": "bias", "severity": "P1", "window": "ten"},
     "window"),
    ({"name": "x", "signal": "findings", "condition": "any", "type": "bias", "severity": "P1",
      "group_by": ["user"]}, "group_by"),
    ({"name": "refusal_rate", "window": 0}, "window"),
    ({"signal": "findings"}, "name"),
])
def test_bad_entries_name_the_field(entry: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_monitors([entry])
    assert where in str(err.value) and "monitors" in str(err.value)


keys = st.sampled_from(["name", "signal", "window", "condition", "type", "severity", "group_by", "min_volume",
                        "baseline", "match", "aggregate", "enabled"])
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 100), st.text(max_size=8),
                   st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers()))


@given(st.lists(st.dictionaries(keys, values, max_size=8), max_size=3))
def test_any_section_loads_or_raises_config_error(section: list[dict[str, Any]]) -> None:
    with contextlib.suppress(ConfigError):
        load_monitors(section)


def test_defaults_are_plain_data() -> None:
    assert all(isinstance(d, dict) and d["name"] for d in DEFAULTS)


def test_group_by_and_filter_keys_that_do_not_exist_are_refused_naming_the_field() -> None:
    bad = {"name": "loan_refusals", "signal": "findings", "match": {"detector": ["refusal"]}, "condition": "any",
           "type": "bias", "severity": "P2"}
    with pytest.raises(ConfigError, match=r"monitors\[0\]\.group_by\[1\]: unknown key 'applicant_group'"):
        load_monitors([{**bad, "group_by": ["app", "applicant_group"]}])
    with pytest.raises(ConfigError, match=r"monitors\[0\]\.where\.segment: unknown key 'segment'"):
        load_monitors([{**bad, "where": {"segment": "b"}}])
    ok = load_monitors([{**bad, "group_by": ["app", "applicant_group"], "where": {"route": "/loans"}}],
                       cohorts=cohort_attributes({"attributes": ["applicant_group"]}))
    assert ok[-1].group_by == ("app", "applicant_group") and ok[-1].where == {"route": ("/loans",)}
    with pytest.raises(ConfigError, match="cohorts.attributes"):
        cohort_attributes({"attributes": "applicant_group"})
    with pytest.raises(ConfigError, match=r"compare.across"):
        load_monitors([{**bad, "condition": "ratio >= 2", "compare": {"across": "cohort"}}])


def test_server_refuses_to_start_with_an_undeclared_group_key() -> None:
    from fireline.api import create_app
    from fireline.config import Config

    config = Config.model_validate({"monitors": [{"name": "refusal_rate", "group_by": ["app", "segment"]}]})
    with pytest.raises(ConfigError, match=r"monitors\[0\]\.group_by\[1\]: unknown key 'segment'"):
        create_app(config=config)
