"""A mistake in FIRELINE_CONFIG stops `fireline serve` with one line naming the field.

Every case runs as its own `fireline serve` process forked from one that imported the CLI once
(tests/support/forkcli.py); three of them also through the installed `fireline` script, one
interpreter each: a configuration error, a YAML error and a control's parameter error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.forkcli import ForkCli

CASES = {
    "monitors": ("monitors:\n  - name: x\n    signal: nope\n", "monitors[0].signal"),
    "playbooks": ("playbooks:\n  data_leakage: {primary: {params: {}}}\n", "playbooks"),
    "apps": ("apps:\n  bot: {tools: {refund: sometimes}}\n", "apps.bot.tools.refund"),
    "yaml": ("apps: [unclosed\n", "not valid YAML: line 2, column 1: expected ',' or ']'"),
    "control_param": ("playbooks:\n  prompt_injection:\n    primary: {kind: block_pattern, "
                      "params: {pattern: x, on: inptu}}\n",
                      "playbooks.prompt_injection.primary[0].params.on: must be 'input' or 'output'"),
    "rate_param": ("playbooks:\n  data_leakage: {primary: [kill_switch], secondary: [{kind: rate_limit, "
                   "params: {per_minute: 0}}]}\n", "playbooks.data_leakage.secondary[0].params.per_minute"),
    "repeated_key": ("monitors: []\nmonitors: []\n", "monitors: repeated key (line 2)"),
    "bool_key": ("detectors:\n  pii:\n    true: 1\n", "detectors.pii: the key 'true' (line 3) is not a string"),
    "triage": ("triage:\n  data_leakage: {severity: P5}\n", "triage.data_leakage.severity: 'P5'"),
    "auto_contain": ("auto_contain:\n  data_leak: [P0]\n", "auto_contain.data_leak: not an incident type"),
    "policies": ("policies:\n  - {name: p, app: a, target: output, deny_patterns: ['(?<=x)y'], type: policy_bypass,"
                 " severity: P1}\n", "FIRELINE_CONFIG: policies[0].deny_patterns"),
    # a typo is refused, not ignored (it used to leave the setting silently off)
    "policy_typo": ("policies:\n  - {name: p, app: a, target: output, deny_terms: [x], type: policy_bypass,"
                    " sevrity: P1}\n", "FIRELINE_CONFIG: policies[0].sevrity: unknown key; did you mean severity?"),
    "detector_typo": ("detectors:\n  jailbreak: {min_confidense: 0.9}\n",
                      "FIRELINE_CONFIG: detectors.jailbreak.min_confidense: unknown key; did you mean min_confidence?"),
    "privacy_typo": ("privacy:\n  retention_day: 30\n",
                     "FIRELINE_CONFIG: privacy.retention_day: unknown key; did you mean retention_days?"),
    "section_typo": ("polices: []\n", "FIRELINE_CONFIG: polices: unknown key; did you mean policies?"),
    "gateway_typo": ("gateway:\n  timeout: 30\n", "FIRELINE_CONFIG: gateway.timeout: unknown key; did you mean"),
}
SCRIPT_CASES = {"apps", "yaml", "control_param"}  # also run through the installed `fireline` script


def check(case: str, tmp_path: Path, run: str, fork_cli: ForkCli) -> None:
    text, expected = CASES[case]
    (tmp_path / "fireline.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_CONFIG=str(tmp_path / "fireline.yaml"), FIRELINE_SECRET="x", COLUMNS="80")
    args = ["serve", "--port", "1"]
    if run == "script":
        fireline = str(Path(sys.executable).with_name("fireline"))
        proc = subprocess.run([fireline, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        code, out = proc.returncode, proc.stdout + proc.stderr
    else:
        done = fork_cli.run(args, env=env, cwd=tmp_path, timeout=60)
        code, out = done.returncode, done.stdout + done.stderr
    assert code == 1, out
    assert expected in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, f"not one line at 80 columns:\n{out}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_is_one_line_and_exit_1(case: str, tmp_path: Path, fork_cli: ForkCli) -> None:
    check(case, tmp_path, "fork", fork_cli)


@pytest.mark.parametrize("case", sorted(SCRIPT_CASES))
def test_bad_config_through_the_fireline_script(case: str, tmp_path: Path, fork_cli: ForkCli) -> None:
    check(case, tmp_path, "script", fork_cli)
