"""A typo in FIRELINE_CONFIG is refused at load, naming the key's full path and the known key it
resembles; before, an unknown key was silently ignored and the setting it meant stayed off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fireline.api import check_config
from fireline.config import SECTIONS, Config, ConfigError, load_config
from fireline.errors import Invalid

# A config that touches every kind of mapping the loader and the parts check.
BASE: dict[str, Any] = {
    "apps": {"support-bot": {"fallback": "Paused.", "models": ["m-1"], "tools": {"refund": "write"}}},
    "privacy": {"raw_retention_days": 7, "retention_days": 30},
    "policies": [
        {"name": "no-competitors", "app": "support-bot", "target": "output", "deny_terms": ["Ford"],
         "type": "policy_bypass", "severity": "P1", "action": "block"},
        {"name": "discount-cap", "app": "support-bot", "target": "tool_arguments", "tool": "refund",
         "argument": "amount", "min": 0, "max": 15, "type": "agentic_harm", "severity": "P1"},
    ],
    "detectors": {"jailbreak": {"min_confidence": 0.7, "min_words": 10},
                  "pii": {"report_echo": False}, "tool_policy": {"apps": {"support-bot": {"allow_write": True}}}},
    "monitors": [{"name": "refusal_rate", "window": 10}],
    "sessions": {"max_steps": 100, "apps": {"support-bot": {"max_tokens": 1000}}},
    "gateway": {"timeout_s": 30, "batch_size": 100},
    "controls": {"poll_interval_s": 1},
    "sla": {"check_interval_s": 5, "P1": {"ack": "30m", "contain": "2h"}},
    "pricing": {"m-1": {"input": 1.0, "output": 2.0}},
    "ingest": {"otlp_max_body_mb": 16, "prepare_process": False},
    "alertmanager": {"severity_label": "level"},
    "rule_alerts": {"repeat_s": 5},
    "evals": {"close_requires_lock": False},
    "notifications": {"channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}},
}


def keys_in(node: Any, path: str, out: list[tuple[str, tuple[Any, ...], str]], at: tuple[Any, ...] = ()) -> None:
    """(path of the mapping, where it is in BASE, key) for every key Fireline defines (not names a
    user chose: apps, models in pricing, ...)."""
    if isinstance(node, dict):
        chosen = path in ("apps", "apps.support-bot.tools", "pricing", "sessions.apps", "detectors.tool_policy.apps",
                          "notifications.channels")
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if not chosen:
                out.append((path, at, key))
            keys_in(value, sub, out, (*at, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            keys_in(item, f"{path}[{i}]", out, (*at, i))


KNOWN: list[tuple[str, tuple[Any, ...], str]] = []
keys_in(BASE, "", KNOWN)


def load(tmp_path: Path, raw: dict[str, Any]) -> Config:
    path = tmp_path / "fireline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(str(path))
    check_config(config)  # what `fireline serve` runs before it starts
    return config


def refused(tmp_path: Path, raw: dict[str, Any]) -> str:
    with pytest.raises((ConfigError, Invalid)) as caught:
        load(tmp_path, raw)
    return str(caught.value)


def test_the_base_config_loads(tmp_path: Path) -> None:
    config = load(tmp_path, BASE)
    assert config.privacy.raw_retention_days == 7 and len(KNOWN) > 40


def misspell(draw: st.DrawFn, word: str) -> str:
    i = draw(st.integers(0, len(word) - 1))
    edit = draw(st.sampled_from(["drop", "double", "swap", "replace", "append"]))
    if edit == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    if edit == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if edit == "replace":
        return word[:i] + draw(st.sampled_from("aeiosnrt_")) + word[i + 1:]
    return word + draw(st.sampled_from(["s", "e", "_"]))


@st.composite
def typos(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], str, str]:
    path, at, key = draw(st.sampled_from(KNOWN))
    wrong = misspell(draw, key)
    return path, at, key, wrong


def with_key_renamed(at: tuple[Any, ...], key: str, wrong: str) -> dict[str, Any]:
    raw: Any = yaml.safe_load(yaml.safe_dump(BASE))  # a deep copy
    node = raw
    for step in at:
        node = node[step]
    node[wrong] = node.pop(key)
    return dict(raw)


@given(typos())
@example(("policies[1]", ("policies", 1), "severity", "sevrity"))
@example(("detectors.jailbreak", ("detectors", "jailbreak"), "min_confidence", "min_confidense"))
@example(("privacy", ("privacy",), "retention_days", "retention_day"))
@example(("", (), "policies", "polices"))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_misspelt_key_is_refused_naming_its_path(tmp_path: Path,
                                                   typo: tuple[str, tuple[Any, ...], str, str]) -> None:
    path, at, key, wrong = typo
    siblings = {k for p, a, k in KNOWN if a == at}
    top = (*SECTIONS, *Config.model_fields) if not path else ()
    if wrong == key or wrong in siblings or wrong in top or wrong.startswith("x-"):
        return  # not a typo: another real key
    message = refused(tmp_path, with_key_renamed(at, key, wrong))
    where = f"{path}.{wrong}" if path else wrong
    assert f"{where}: unknown key" in message, message
    if wrong in (key[:-1], key + "s", key + "e", key + "_") and len(key) > 4:
        assert f"did you mean {key}?" in message, message


@pytest.mark.parametrize(("raw", "expected"), [
    ({"policies": [{**BASE["policies"][0], "sevrity": "P1"}]},
     "policies[0].sevrity: unknown key; did you mean severity?"),
    ({"detectors": {"jailbreak": {"min_confidense": 0.9}}},
     "detectors.jailbreak.min_confidense: unknown key; did you mean min_confidence?"),
    ({"privacy": {"retention_day": 30}}, "privacy.retention_day: unknown key; did you mean retention_days?"),
    ({"polices": []}, "polices: unknown key; did you mean policies?"),
    ({"apps": {"bot": {"fallbak": "Paused."}}}, "apps.bot.fallbak: unknown key; did you mean fallback?"),
    ({"detectors": {"jailbrake": {}}}, "detectors.jailbrake: unknown key; did you mean jailbreak?"),
    ({"sla": {"P1": {"acknowledge": "5m"}}}, "sla.P1.acknowledge: unknown key"),
    ({"pricing": {"m-1": {"inptu": 1.0}}}, "pricing.m-1.inptu: unknown key; did you mean input?"),
    ({"sessions": {"apps": {"bot": {"max_step": 3}}}},
     "sessions.apps.bot.max_step: unknown key; did you mean max_steps?"),
    ({"notifications": {"channels": {"ops": {"type": "webhook", "url": "http://h/", "secrt": "s"}}}},
     "notifications.channels.ops.secrt: unknown key; did you mean secret?"),
    ({"gateway": "fast"}, "gateway: must be a mapping"),
    # values the parts read later (some per request, where float("fast") was a 500) are checked too
    ({"gateway": {"spool": "no"}}, "gateway.spool: must be true or false, not 'no'"),
    ({"gateway": {"timeout_s": "fast"}}, "gateway.timeout_s: must be a number above 0"),
    ({"gateway": {"prepare_late_s": 0}}, "gateway.prepare_late_s: must be a number above 0"),
    ({"gateway": {"prepare_priority": "lowest"}},
     "gateway.prepare_priority must be one of idle, low, normal, not 'lowest'"),
    ({"ingest": {"prepare_process": "yes"}}, "ingest.prepare_process: must be true or false, not 'yes'"),
    ({"blast_radius": {"lookback_days": "a month"}}, "blast_radius.lookback_days: must be a number above 0"),
    ({"controls": {"poll_interval_s": 0}}, "controls.poll_interval_s: must be a number above 0"),
    ({"sla": {"P1": "30m"}}, "sla.P1: must be a mapping"),
    ({"pricing": {"m-1": {"input": "cheap"}}}, "pricing.m-1.input: must be a number of 0 or more"),
    ({"alertmanager": {"app_labels": "service"}}, "alertmanager.app_labels: must be a list"),
    ({"detectors": {"refusal": {"severity": "high"}}}, "detectors.refusal.severity: 'high' is not one of P0, P1"),
    ({"detectors": {"harmful_output": {"severity": {"self_harm": "P9"}}}},
     "detectors.harmful_output.severity.self_harm: 'P9' is not one of"),
])
def test_unknown_keys_named_with_a_suggestion(tmp_path: Path, raw: dict[str, Any], expected: str) -> None:
    assert expected in refused(tmp_path, raw)


def test_x_keys_at_the_top_level_are_extensions_for_notes_and_anchors(tmp_path: Path) -> None:
    text = ("x-owner: ai-platform team\n"
            "x-bot: &bot {fallback: Paused., models: [m-1]}\n"
            "apps:\n  a: *bot\n  b: *bot\n")
    path = tmp_path / "fireline.yaml"
    path.write_text(text)
    config = load_config(str(path))
    check_config(config)
    assert config.app("b").models == ["m-1"]
    # inside a section an x- key is as unknown as any other (policies have `description` for notes)
    assert "policies[0].x-owner: unknown key" in refused(tmp_path, {"policies": [{**BASE["policies"][0],
                                                                                  "x-owner": "me"}]})
