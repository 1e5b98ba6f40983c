"""Run the `fireline` CLI in-process against a running test server."""

from __future__ import annotations

from typer.testing import CliRunner

from fireline import config
from fireline.cli.main import app
from tests.support.fireline import Fireline

runner = CliRunner()


def invoke(fl: Fireline | None, role: str | None, *args: str) -> tuple[int, str]:
    """Exit code and output of `fireline ARGS` as a key of `role` (None: no key) on `fl`'s server."""
    env = {"FIRELINE_TOKEN": fl.keys[role] if fl is not None and role else "", "COLUMNS": "250"}
    if fl is not None:
        env["FIRELINE_URL"] = fl.url
    config.reset()
    try:
        result = runner.invoke(app, list(args), env=env)
    finally:
        config.reset()
    return result.exit_code, result.output
