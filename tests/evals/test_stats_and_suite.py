"""The Wilson interval and the suite parser, checked as properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.evals.stats import min_samples, wilson
from fireline.evals.suite import SuiteError, parse, parse_text


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_brackets_the_observed_rate(pair: tuple[int, int]) -> None:
    failures, n = pair
    lo, hi = wilson(failures, n)
    assert 0.0 <= lo <= failures / n <= hi <= 1.0
    assert hi - lo < 1.0


@given(st.integers(2, 2000).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_more_failures_never_lower_the_bounds(pair: tuple[int, int]) -> None:
    k, n = pair
    (lo1, hi1), (lo2, hi2) = wilson(k, n), wilson(k + 1, n)
    assert lo1 <= lo2 and hi1 <= hi2


def test_known_values() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and abs(hi - 0.2775) < 1e-3
    lo, hi = wilson(5, 10)
    assert abs(lo - 0.2366) < 1e-3 and abs(hi - 0.7634) < 1e-3
    assert min_samples(0.05) == 73 and wilson(0, 73)[1] <= 0.05 < wilson(0, 72)[1]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=10)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "cases", "defaults", "fireline_eval", "app", "x"]), json_values))
def test_any_mapping_parses_or_fails_with_a_suite_error(data: dict[str, Any]) -> None:
    try:
        parse(data, "f.yaml")
    except SuiteError as exc:
        assert str(exc).startswith("f.yaml:")


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300), st.floats(0.01, 0.5)), min_size=1, max_size=5),
       st.booleans())
def test_a_reported_run_passes_only_when_every_upper_bound_is_under_its_threshold(
        cases: list[tuple[int, int, float]], claimed: bool) -> None:
    from fireline.evals.service import normalise

    rows = [{"case_id": f"c{i}", "samples": max(a, b), "failures": min(a, b), "threshold": t}
            for i, (a, b, t) in enumerate(cases)]
    rep = normalise({"target": "t", "passed": claimed, "status": "passed" if claimed else "failed", "cases": rows})
    expected = all(r["samples"] and wilson(r["failures"], r["samples"])[1] <= r["threshold"] for r in rows)
    assert rep["passed"] is expected
    assert all(c["status"] != "passed" or c["ci_high"] <= c["threshold"] for c in rep["cases"])


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["choices", "message", "content", "tool_calls", "function", "name",
                                         "arguments", "usage", "prompt_tokens", "text"]), inner, max_size=4),
                    max_leaves=25))
def test_any_upstream_body_is_an_answer_or_a_value_error(body: Any) -> None:
    from fireline.evals.expect import Answer

    try:
        answer = Answer.from_completion(body)
    except ValueError:
        return
    assert isinstance(answer.text, str) and answer.input_tokens >= 0


def test_a_hand_written_suite_reads_yaml_12_scalars_and_refuses_a_repeated_key() -> None:
    """The config's loader: `no`, `off` stay the strings written (YAML 1.1 read them as booleans and
    the suite was refused, or a tenant named `no` became False); a repeated key is refused by path."""
    text = ("id: s1\ncases:\n  - id: c1\n    tenant: no\n    input: [{role: user, content: is the store open}]\n"
            "    expect: {must_refuse: true, must_not_contain: [off, 1e5]}\n")
    case = parse_text(text).cases[0]
    assert case.tenant == "no" and case.expect.must_refuse is True
    assert case.expect.must_not_contain == ["off", "1e5"]
    with pytest.raises(SuiteError, match=r"cases\[0\]\.id: repeated key"):
        parse_text(text.replace("  - id: c1\n", "  - id: c1\n    id: c2\n"))
