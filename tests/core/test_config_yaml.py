"""FIRELINE_CONFIG is read with YAML 1.2 scalars: `on/off/yes/no` stay strings, so a block
pattern's `on: input` is what it says; what a mapping would silently lose is refused by path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fireline.config import ConfigError, load_config, load_yaml
from fireline.db import Database
from tests.support.fireline import running

YAML11_BOOLS = ["on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N"]

CONFIG = """
apps:
  support-bot: {fallback: "Paused."}
playbooks:
  prompt_injection:
    primary:
      - kind: block_pattern
        params: {pattern: "ignore (all )?previous instructions", on: input}
    secondary: []
"""


@given(st.sampled_from(YAML11_BOOLS), st.sampled_from(YAML11_BOOLS))
def test_yaml11_booleans_stay_strings_as_keys_and_values(key: str, value: str) -> None:
    assert load_yaml(f"params:\n  {key}: {value}\n") == {"params": {key: value}}


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.one_of(st.none(), st.booleans(),
                                                                     st.integers(-10**12, 10**12),
                                                                     st.text(max_size=20)), max_size=8))
@example({"a": "0E0"})
@example({"1e5": "1.5e3", "08": "0o17", "+.5": "-1E-3"})
def test_what_a_yaml_writer_dumps_reads_back_the_same(data: dict[str, object]) -> None:
    assert load_yaml(yaml.safe_dump(data)) == data


def test_yaml12_numbers() -> None:
    assert load_yaml("a: 010\nb: 0x1f\nc: 1:20\nd: 1.5e+3\ne: 2.5\nf: true\ng: ~\nh: -7\ni: .5") == {
        "a": 10, "b": 31, "c": "1:20", "d": 1500.0, "e": 2.5, "f": True, "g": None, "h": -7, "i": 0.5}


def test_what_a_yaml11_writer_leaves_unquoted_stays_a_string() -> None:
    # YAML 1.2 reads these as numbers, but a YAML 1.1 writer (PyYAML) writes the strings unquoted
    assert load_yaml("a: 1e5\nb: 0E0\nc: 1.5e3\nd: 08\ne: 0o17\nf: +.5") == {
        "a": "1e5", "b": "0E0", "c": "1.5e3", "d": "08", "e": "0o17", "f": "+.5"}


def test_repeated_and_non_string_keys_are_refused_with_their_path() -> None:
    with pytest.raises(ConfigError, match=r"playbooks\.x\.primary\[0\]\.params\.on: repeated key"):
        load_yaml("playbooks:\n  x:\n    primary:\n      - params: {on: input, on: output}\n")
    with pytest.raises(ConfigError, match=r"playbooks\.x: the key 'null'"):
        load_yaml("playbooks:\n  x:\n    null: 1\n")


def test_a_block_pattern_on_input_contains_on_input(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "fireline.yaml"
    path.write_text(CONFIG)
    config = load_config(str(path))
    with running(db, config) as fl, fl.client("responder") as http:
        iid = http.post("/api/v1/incidents", json={"title": "jailbreak wave", "type": "prompt_injection",
                                                    "severity": "P2", "apps": ["support-bot"]}).json()["id"]
        r = http.post(f"/api/v1/incidents/{iid}/playbook")
        assert r.status_code == 201, r.text
        (control,) = r.json()["controls"]
        assert control["kind"] == "block_pattern" and control["params"]["on"] == "input"
        assert http.get(f"/api/v1/incidents/{iid}").json()["state"] == "contained"
