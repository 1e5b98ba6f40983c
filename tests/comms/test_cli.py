"""The comms and post-mortem commands as a user runs them, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fireline import config
from fireline.db import Database
from tests.comms.support import comms_config, pii_leak, store_calls
from tests.support.cli import invoke as cli
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fireline]:
    with running(sqlite_db, comms_config()) as server:
        monkeypatch.setenv("FIRELINE_URL", server.url)
        config.reset()
        yield server
        config.reset()




def test_update_obligations_root_cause_actions_and_postmortem(fl: Fireline, tmp_path: Path) -> None:
    ids = store_calls(fl.db, [{"findings": [pii_leak()]}])
    with fl.client("responder") as c:
        iid = c.post("/api/v1/incidents", json={"title": "Leak", "type": "data_leakage", "severity": "P0",
                                                "apps": ["support-bot"], "call_ids": ids}).json()["id"]
    code, out = cli(fl, "responder", "incident", "update", iid, "--message", "Looking into it", "--public")
    assert code == 0 and "public update posted" in out
    code, out = cli(fl, "viewer", "incident", "update", iid, "--message", "x")
    assert code == 1 and "403" in out
    with fl.client(None) as anon:
        assert "Looking into it" in anon.get("/status").text

    code, out = cli(fl, "viewer", "obligations", iid)
    assert code == 0 and "gdpr_art33" in out and "open" in out  # 80 columns: kind, due, status
    code, out = cli(fl, "viewer", "obligations", iid, "--wide")
    assert code == 0 and "GDPR Art. 33" in out and "likely_consequences" in out
    with fl.client("viewer") as v:
        oid = v.get(f"/api/v1/incidents/{iid}/obligations").json()["obligations"][0]["id"]
    code, out = cli(fl, "responder", "obligations", iid, "--met", oid, "--note", "filed")
    assert code == 0 and "met" in out

    code, out = cli(fl, "responder", "root-cause", iid, "--category", "prompt", "--factor", "prompt v12 dropped "
                    "the tenant rule", "--factor", "no eval for cross-tenant data")
    assert code == 0 and "root cause prompt" in out
    code, out = cli(fl, "responder", "root-cause", iid, "--category", "vibes")
    assert code == 1 and "422" in out
    code, out = cli(fl, "responder", "action", iid, "--title", "Add tenant eval", "--owner", "dana",
                    "--due", "2026-12-04")
    assert code == 0 and "for dana, due 2026-12-04" in out

    code, out = cli(fl, "viewer", "postmortem", iid)
    assert code == 0 and out.startswith(f"# Post-mortem {iid}") and "prompt v12 dropped the tenant rule" in out
    target = tmp_path / "pm.html"
    code, out = cli(fl, "viewer", "postmortem", iid, "--format", "html", "--out", str(target))
    assert code == 0 and target.read_text().startswith("<!doctype html>")
    code, out = cli(fl, "viewer", "postmortem", iid, "--format", "pdf")
    assert code == 1 and "--format" in out
    code, out = cli(fl, "viewer", "postmortems", "--overdue")
    assert code == 0
