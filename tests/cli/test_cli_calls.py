"""The CLI as a user runs it: admin commands on the database, operational ones through HTTP."""

from __future__ import annotations

from pathlib import Path

from fireline import config
from fireline.cli.main import app
from tests.support.cli import invoke as cli
from tests.support.cli import runner
from tests.support.fireline import Fireline


def test_keys_search_show_and_erase(fl: Fireline) -> None:
    code, out = cli(fl, None, "keys", "create", "--role", "viewer", "--name", "dash")
    assert code == 0 and "fl_viewer_" in out
    code, out = cli(fl, None, "keys", "list")
    assert code == 0 and "dash" in out
    code, out = cli(fl, None, "keys", "create", "--role", "boss")
    assert code == 1 and "role must be one of" in out
    with fl.client("ingest") as http:
        http.post("/api/v1/calls", json={"id": "c-9", "app": "bot", "user": "dave",
                                         "input": [{"role": "user", "content": "I am dave@example.com"}],
                                         "output": "hello"})
    code, out = cli(fl, "viewer", "calls", "search", "--app", "bot")
    assert code == 0 and "c-9" in out
    code, out = cli(fl, "viewer", "calls", "show", "c-9")
    assert code == 0 and "<EMAIL_ADDRESS>" in out and "dave@example.com" not in out
    code, out = cli(fl, "responder", "calls", "show", "c-9", "--reason", "audit")
    assert code == 0 and "dave@example.com" in out
    code, out = cli(fl, "viewer", "calls", "show", "missing")
    assert code == 1 and "404" in out and "Traceback" not in out
    code, out = cli(fl, "responder", "erase", "--user", "dave")
    assert code == 0 and "deleted calls" in out
    code, out = cli(fl, None, "retention", "run")
    assert code == 0 and "raw content purged" in out


def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["calls", "search"], env={"FIRELINE_URL": "http://127.0.0.1:9",
                                                         "FIRELINE_TOKEN": "x"})
    config.reset()
    assert result.exit_code == 1
    assert "cannot reach Fireline" in result.output and "Traceback" not in result.output
