"""Regexes from the config run on RE2: what RE2 cannot compile stops `serve` naming the field."""

from __future__ import annotations

import time

import pytest

from fireline.config import Config, ConfigError
from fireline.detect import api as detect_api
from fireline.detect.detectors.prompt_injection import PromptInjectionDetector
from fireline.detect.detectors.refusal import RefusalDetector


@pytest.mark.parametrize(("section", "field"), [
    ({"refusal": {"extra_phrases": ["ok", r"(?<!not )sorry"]}}, "detectors.refusal.extra_phrases[1]"),
    ({"refusal": {"phrases": [r"(no)\1"]}}, "detectors.refusal.phrases[0]"),
    ({"refusal": {"exceptions": [r"x(?=y)"]}}, "detectors.refusal.exceptions[0]"),
    ({"prompt_injection": {"extra_markers": [r"ignore (?!me)"]}}, "detectors.prompt_injection.extra_markers[0]"),
])
def test_a_config_regex_re2_refuses_stops_the_server_naming_it(section: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        detect_api.check(Config.model_validate({"detectors": section}))


def test_config_regexes_are_linear_on_a_catastrophic_input() -> None:
    refusal = RefusalDetector({"extra_phrases": ["(a+)+b"]})
    injection = PromptInjectionDetector({"extra_markers": ["(x+x+)+y"]})
    start = time.perf_counter()
    assert refusal.find("a" * 5000 + "!") is None
    assert injection.find_direct("x" * 5000) is None
    assert time.perf_counter() - start < 1.0  # a backtracking engine takes longer than the universe


def test_extra_phrases_add_to_the_vetted_defaults() -> None:
    refusal = RefusalDetector({"extra_phrases": ["computer says no"]})
    assert refusal.find("Computer says no.") is not None
    assert refusal.find("I'm sorry, but I can't help with that.") is not None
    assert refusal.find("Your order ships tomorrow.") is None
