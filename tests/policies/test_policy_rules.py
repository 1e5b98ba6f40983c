"""The `policies:` section: validation naming the field, and what each condition matches."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.config import ConfigError
from fireline.detect.detectors.base import CallView
from fireline.detect.detectors.harmful_output import HarmfulOutputDetector
from fireline.detect.policies import load_policies
from fireline.detect.policy_match import PolicyEngine, redact_spans


def rule(**kw: Any) -> dict[str, Any]:
    return {"name": "r", "app": "bot", "target": "output", "type": "policy_bypass", "severity": "P1", **kw}


def engine(*rules: dict[str, Any]) -> PolicyEngine:
    return PolicyEngine(load_policies(list(rules)))


def output(text: str, app: str = "bot") -> CallView:
    return CallView.from_record({"app": app, "input": [{"role": "user", "content": "hi"}], "output": text})


def tool_call(name: str, arguments: Any, app: str = "bot") -> CallView:
    return CallView.from_record({"app": app, "input": "go", "tool_calls": [{"name": name, "arguments": arguments}]})


@pytest.mark.parametrize(("entry", "field"), [
    ({"deny_terms": ["x"], "severity": "P9"}, "policies[0].severity"),
    ({"deny_terms": ["x"], "type": "oops"}, "policies[0].type"),
    ({"deny_terms": ["x"], "action": "delete"}, "policies[0].action"),
    ({"deny_patterns": ["(a)\\1"]}, "policies[0].deny_patterns"),
    ({"deny_patterns": ["(?=lookahead)"]}, "policies[0].deny_patterns"),
    ({"deny_term": ["x"]}, "policies[0].deny_term"),
    ({}, "policies[0]: a policy needs a condition"),
    ({"max": 5}, "policies[0]: min and max bound a tool argument"),
    ({"deny_terms": ["x"], "tool": "run_sql"}, "policies[0]: tool and argument apply to target tool_arguments"),
    ({"target": "tool_arguments", "min": 5, "max": 1}, "policies[0]: min (5) is above max (1)"),
    ({"allow_patterns": ["^ok"], "action": "redact"}, "policies[0]: action redact"),
    ({"deny_terms": ["x"], "target": "everywhere"}, "policies[0].target"),
    ({"deny_terms": ["x"], "name": "has space"}, "policies[0].name"),
])
def test_a_bad_rule_is_one_error_naming_its_field(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_policies([rule(**entry)])
    assert str(exc.value).startswith(field), str(exc.value)


def test_names_are_unique_and_disabled_rules_are_skipped() -> None:
    with pytest.raises(ConfigError, match=r"policies\[1\].name: 'r' is declared twice"):
        load_policies([rule(deny_terms=["a"]), rule(deny_terms=["b"])])
    assert load_policies([rule(deny_terms=["a"], enabled=False)]) == []
    with pytest.raises(ConfigError, match="policies: must be a list"):
        load_policies({"r": {}})


@pytest.mark.parametrize(("text", "hit"), [
    ("Buy a Ford.", True), ("Two FORDS here", True), ("the ford's engine", True), ("Tesla’s range", True),
    ("It is affordable", False), ("Fordham University", False), ("a Teslamobile", False),
    ("we committed to it", True), ("commitment matters", False), ("the companies agree", True),
    ("this is legally\nbinding", True), ("legally non-binding", False),
])
def test_deny_terms_are_whole_words_case_insensitive_with_simple_inflections(text: str, hit: bool) -> None:
    e = engine(rule(deny_terms=["Ford", "Tesla", "commit", "company", "legally binding"]))
    assert bool(e.check(output(text))) is hit


WORDS = st.text(alphabet=st.sampled_from("abcdefghij "), min_size=0, max_size=60)


@settings(max_examples=200, deadline=None)
@given(before=WORDS, after=WORDS, case=st.sampled_from(["tesla", "TESLA", "Tesla", "teslas"]))
def test_a_denied_word_is_found_wherever_it_stands_alone(before: str, after: str, case: str) -> None:
    e = engine(rule(deny_terms=["Tesla"]))
    found = e.check(output(f"{before} {case} {after}"))
    assert found and {v.kind for v in found} == {"deny_term"}
    assert not e.check(output(f"{before}x{case}y {after}".replace(" tesla", " x")))


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_rules_never_fail_on_arbitrary_text(text: str) -> None:
    e = engine(rule(deny_terms=["ford"], deny_patterns=[r"(?i)\bdrop\b"], allow_domains=["acme.example"]),
               rule(name="t", target="tool_arguments", tool="send", argument="to", allow_patterns=["@acme$"],
                    deny_terms=["x y"]),
               rule(name="n", target="tool_arguments", argument="n", min=0, max=10))
    e.check(output(text))
    e.check(tool_call("send", {"to": text, "n": text}))


def test_deny_patterns_are_one_pass_and_redaction_merges_overlaps() -> None:
    e = engine(rule(deny_patterns=[r"(?i)\bdrop\s+table\b", r"(?i)\btable\b"], action="redact"))
    text = "please DROP TABLE users"
    found = e.check(output(text))
    assert {v.kind for v in found} == {"deny_pattern"}
    assert redact_spans(text, [(v.start, v.end) for v in found if v.start is not None]) == "please [REDACTED] users"


def test_allow_lists_for_recipients_split_on_commas_and_check_each_address() -> None:
    e = engine(rule(target="tool_arguments", tool="send_email", argument="to", allow_patterns=[r"@acme\.example>?$"]))
    assert not e.check(tool_call("send_email", {"to": "bob@acme.example, Ann <ann@acme.example>"}))
    found = e.check(tool_call("send_email", {"to": "bob@acme.example; eve@evil.example"}))
    assert [(v.kind, v.argument) for v in found] == [("not_allowed", "to")]
    assert not e.check(tool_call("read_file", {"to": "eve@evil.example"}))  # another tool
    assert e.check(tool_call("send_email", '{"to": ["eve@evil.example"]}'))  # JSON text and lists


def test_allow_values_and_allow_domains() -> None:
    e = engine(rule(name="region", target="tool_arguments", argument="region", allow_values=["EU", "us"]),
               rule(name="links", target="tool_arguments", tool="fetch", argument="url",
                    allow_domains=["acme.example"]),
               rule(name="out-links", allow_domains=["acme.example"]))
    assert not e.check(tool_call("deploy", {"region": "eu"}))
    assert [v.rule.name for v in e.check(tool_call("deploy", {"region": "cn"}))] == ["region"]
    assert not e.check(tool_call("fetch", {"url": "https://docs.acme.example/x"}))
    assert e.check(tool_call("fetch", {"url": "https://acme.example.evil.test/x"}))
    assert e.check(tool_call("fetch", {"url": "evil.test"}))
    assert not e.check(output("See https://www.acme.example/help or write to help@acme.example."))
    assert [v.kind for v in e.check(output("Try https://phish.test/login now"))] == ["not_allowed"]


@pytest.mark.parametrize(("value", "kind"), [
    (10, None), (15, None), (16, "above_max"), ("40%", "above_max"), ("$0", "below_min"), (-1, "below_min"),
    ("12.5", None), ("fifteen", "not_a_number"), (True, "not_a_number"), (float("nan"), "not_a_number"),
])
def test_numeric_bounds_on_a_named_argument(value: Any, kind: str | None) -> None:
    e = engine(rule(target="tool_arguments", tool="issue_discount", argument="percent", min=0.01, max=15))
    found = e.check(tool_call("issue_discount", {"percent": value, "other": 99}))
    assert [v.kind for v in found] == ([kind] if kind else [])


def test_input_rules_judge_the_new_turn_only_and_wildcard_apps() -> None:
    e = engine(rule(app="*", target="input", deny_terms=["password"]))
    history = [{"role": "user", "content": "my password is hunter2"}, {"role": "assistant", "content": "noted"},
               {"role": "user", "content": "thanks"}]
    assert not e.check(CallView.from_record({"app": "any", "input": history}))
    history[-1]["content"] = "and the password again?"
    found = e.check(CallView.from_record({"app": "other", "input": history}))
    assert [v.location for v in found] == ["input"] and found[0].item == 2


def test_a_policy_switches_on_a_detector_category_for_its_app_only() -> None:
    calls: list[str] = []

    def profanity(text: str) -> dict[str, list[tuple[int, int]]]:
        calls.append(text)
        return {"profanity": [(0, 4)]} if text.startswith("damn") else {}

    e = PolicyEngine(load_policies([rule(app="support", detectors=["profanity"], type="harmful_output")]),
                     {"harmful_output": profanity})
    assert [v.kind for v in e.check(output("damn this", app="support"))] == ["detector"]
    assert not e.check(output("damn this", app="other"))  # no rule, no cost
    assert calls == ["damn this"]


def test_apps_without_rules_cost_a_lookup() -> None:
    e = engine(rule(deny_terms=["x"]))
    assert e.for_app("unrelated") is None
    assert e.for_app("bot") is e.for_app("bot")


def test_an_opt_in_lexicon_category_is_reported_only_through_a_policy_that_names_it() -> None:
    detector = HarmfulOutputDetector({"lexicon": {"profanity": ["dang*"]}, "opt_in_categories": ["profanity"]})
    answer = output("Dang it, the printer jammed again.", app="support")
    assert detector.detect(answer) == []  # off by default
    e = PolicyEngine(load_policies([rule(app="support", detectors=["profanity"], type="harmful_output",
                                         action="redact")]), {"harmful_output": detector.categories})
    [v] = e.check(answer, detector.detect(answer))
    assert (v.kind, answer.output_text[v.start:v.end]) == ("detector", "Dang")
