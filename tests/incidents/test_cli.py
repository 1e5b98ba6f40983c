"""The CLI against a running server: incident commands, blast radius, evidence export and offline verify."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from fireline import config as fl_config
from fireline.cli.main import app
from fireline.config import Config
from fireline.db import Database
from fireline.incidents.models import TimelineEntry
from tests.incidents.helpers import finding, store_calls
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fireline]:
    # The lifecycle on its own: the eval-lock gate on closing is tested in tests/evals.
    with running(db, Config.model_validate({"evals": {"close_requires_lock": False}})) as server:
        monkeypatch.setenv("FIRELINE_URL", server.url)
        monkeypatch.setenv("FIRELINE_TOKEN", server.keys["responder"])
        fl_config.reset()
        yield server
    fl_config.reset()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_incident_commands_walk_the_lifecycle(fl: Fireline, tmp_path: Path) -> None:
    ids = store_calls(fl.db, [{"findings": [finding()]}])
    code, text = cli("incident", "declare", "--title", "Leak of order data", "--type", "data_leakage",
                     "--severity", "P2", "--app", "support-bot", "--call", ids[0], "--json")
    assert code == 0, text
    iid = text[text.index('"INC-') + 1:].split('"')[0]
    assert cli("incident", "assign", iid, "comms-lead", "sam")[0] == 0
    code, text = cli("incident", "severity", iid, "P1", "--reason", "second tenant affected")
    assert code == 0 and "P1" in text
    assert cli("incident", "note", iid, "cache key lacks tenant id", "--kind", "hypothesis")[0] == 0
    code, text = cli("incident", "list", "--state", "acknowledged")
    assert code == 0 and iid[:12] in text
    code, text = cli("incident", "show", iid, "--timeline")
    assert code == 0 and "sam" in text and "hypothesis" in text
    code, text = cli("incident", "close", iid)
    assert code == 1 and "409" in text and "contain" in text
    code, text = cli("blast-radius", iid, "--json")
    assert code == 0 and '"calls": 1' in text
    bundle = tmp_path / "evidence.tar.gz"
    code, text = cli("evidence", "export", iid, "--out", str(bundle))
    assert code == 0 and bundle.exists(), text
    code, text = cli("evidence", "verify", str(bundle))
    assert code == 0 and "OK" in text
    member = f"calls/{ids[0]}.json"
    changed = tmp_path / "changed.tar.gz"
    with tarfile.open(bundle) as tin, tarfile.open(changed, "w:gz") as tout:
        for info in tin:
            data = tin.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == member:
                data = data.replace(b"ships", b"shipz", 1)
            tout.addfile(info, io.BytesIO(data))
    code, text = cli("evidence", "verify", str(changed))
    assert code == 1 and member in text
    for action in ("contain", "resolve", "close"):
        assert cli("incident", action, iid)[0] == 0
    code, text = cli("incident", "verify", iid)
    assert code == 0 and "verifies" in text
    with fl.db.writing() as s:
        s.execute(update(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq == 4)
                  .values(actor="mallory"))
    code, text = cli("incident", "verify", iid)
    assert code == 1 and "entry 4" in text


def test_cli_errors_are_one_line(fl: Fireline, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = cli("incident", "show", "INC-missing")
    assert code == 1 and "404" in text and "Traceback" not in text
    monkeypatch.setenv("FIRELINE_TOKEN", fl.keys["viewer"])
    fl_config.reset()
    code, text = cli("incident", "declare", "--title", "x", "--type", "bias")
    assert code == 1 and "403" in text
