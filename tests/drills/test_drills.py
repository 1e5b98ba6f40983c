"""Every shipped drill scenario, in fast mode, is detected and contained, and the harm stops."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fireline.db import Database
from fireline.drills import report
from fireline.drills.fast import DRILL_APP, drill_range
from fireline.drills.runner import Drill
from fireline.drills.scenario import builtin_names, load


def test_shipped_scenarios_load() -> None:
    names = builtin_names()
    assert {"data_leak", "jailbreak_wave", "refusal_spike", "agent_write", "hallucination",
            "cost_runaway"} <= set(names)
    for name in names:
        assert load(name).expected_types


@pytest.mark.parametrize("name", ["data_leak", "jailbreak_wave", "refusal_spike", "agent_write",
                                  "hallucination", "cost_runaway"])
def test_drill_is_detected_contained_and_verified(name: str, sqlite_db: Database) -> None:
    with drill_range(sqlite_db) as rng:
        drill = Drill(load(name), url=rng.url, token=rng.admin_key, app=DRILL_APP, auto_ack=True,
                      contain=True, timeout=15)
        result = drill.run()
        assert result.detected, result.gaps
        assert result.incident and result.incident["type"] in load(name).expected_types
        assert result.contained, result.gaps
        assert result.time_to_detect is not None and result.time_to_contain is not None
        assert result.time_to_detect <= result.time_to_contain <= (result.time_to_verify or 0)
        md = report.markdown(result)
        assert result.drill_id in md
        if name == "jailbreak_wave":
            # The lexicon guardrail misses many PAIR answers: when a probe slips through, the drill
            # says so and the playbook's secondary action (prompt rollback) ends the wave.
            assert all("did not stop the harm" in gap and "secondary actions" in gap for gap in result.gaps), \
                result.gaps
        else:
            assert result.gaps == [] and "nothing: detected, contained and verified" in md


def test_drill_reports_the_gap_when_no_monitor_fires(sqlite_db: Database) -> None:
    quiet = {"apps": {DRILL_APP: {"fallback": "paused"}},
             "monitors": [{"name": n, "enabled": False} for n in ("canary_leak", "pii_secret_leak")]}
    with drill_range(sqlite_db, quiet) as rng:
        result = Drill(load("data_leak"), url=rng.url, token=rng.admin_key, app=DRILL_APP, auto_ack=True,
                       contain=True, timeout=3).run()
    assert not result.detected
    assert any("no monitor fired" in gap for gap in result.gaps)


def test_cli_drill_needs_an_admin_token() -> None:
    from fireline import config
    from fireline.cli.main import app

    config.reset()
    result = CliRunner().invoke(app, ["drill", "--scenario", "data_leak"], env={"FIRELINE_TOKEN": ""})
    config.reset()
    assert result.exit_code == 1 and "FIRELINE_TOKEN" in result.output
