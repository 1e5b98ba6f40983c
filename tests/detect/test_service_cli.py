"""The detection CLI against a running server: canaries, reports, monitors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from fireline import config as fl_config
from fireline.cli.main import app
from fireline.db import Database
from tests.detect.streams import always, now, recent, send
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fireline]:
    with running(sqlite_db) as server:
        monkeypatch.setenv("FIRELINE_URL", server.url)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.setenv("FIRELINE_TOKEN", server.keys["responder"])
        fl_config.reset()
        yield server
    fl_config.reset()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_canary_report_and_monitors_commands(fl: Fireline) -> None:
    code, text = cli("canary", "add", "acme", "CNRY-acme-5d1f0c2e")
    assert code == 0 and "registered for acme" in text
    code, text = cli("canary", "add", "acme", "short")
    assert code != 0 and "token" in text
    assert "CNRY-acme-5d1f0c2e" in cli("canary", "list")[1]
    [cid] = send(fl.client("ingest"), recent(1, 1, always(tenant="globex", output="ref CNRY-acme-5d1f0c2e",
                                                          started_at=now().isoformat())))
    code, text = cli("report", cid, "leak", "--text", "I saw another company's contract")
    assert code == 0 and "leak" in text
    code, text = cli("report", "no-such-call", "harmful")
    assert code == 0 and "pending" in text
    code, text = cli("report", cid, "harmful", "--at", "yesterday")
    assert code != 0 and "at" in text
    code, text = cli("monitors", "--firing")
    assert code == 0 and "canary_leak" in text and "firing" in text
    code, text = cli("canary", "remove", "1")
    assert code == 0
