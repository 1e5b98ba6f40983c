"""FIRELINE_CONFIG is read with YAML 1.2 scalars: `on/off/yes/no` stay strings, so a block
pattern's `on: input` is what it says; what a mapping would silently lose is refused by path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
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
def test_what_a_yaml_writer_dumps_reads_back_the_same(data: dict[str, object]) -> None:
    assert load_yaml(yaml.safe_dump(data)) == data


def test_yaml12_numbers() -> None:
    assert load_yaml("a: 010\nb: 0o17\nc: 0x1f\nd: 1:20\ne: 1.5e3\nf: true\ng: ~") == {
        "a": 10, "b": 15, "c": 31, "d": "1:20", "e": 1500.0, "f": True, "g": None}


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
