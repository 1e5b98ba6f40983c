"""Change markers: the API, `fireline change`, changes_between and the snapshot evidence source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from fireline import config
from fireline.cli.main import app as cli_app
from fireline.db import Database
from fireline.ingest import changes
from tests.support.fireline import running


def test_change_markers_api_and_queries(db: Database) -> None:
    # "now" of this test, not of the module's import: a long suite must not move it into the past
    NOW = datetime.now(UTC).replace(microsecond=0)  # noqa: N806
    with running(db) as fl:
        with fl.client("ingest") as http:
            resp = http.post("/api/v1/changes", json={
                "kind": "model", "app": "support-bot", "from": "gpt-4o-2024-05-13", "to": "gpt-4o-2024-08-06",
                "actor": "deploy-bot", "time": (NOW - timedelta(hours=2)).isoformat(), "description": "model upgrade"})
            assert resp.status_code == 201, resp.text
            made = resp.json()
            assert made["id"].startswith("chg_") and made["from"] == "gpt-4o-2024-05-13"
            assert made["actor"] == "deploy-bot" and made["at"].startswith((NOW - timedelta(hours=2)).isoformat()[:16])
            resp = http.post("/api/v1/changes", json={"kind": "prompt", "app": "support-bot", "from": "v11",
                                                      "to": "v12", "at": (NOW - timedelta(hours=30)).isoformat()})
            assert resp.status_code == 201 and resp.json()["actor"].startswith("key_")  # default: the key id
            assert http.post("/api/v1/changes", json={"kind": "config", "app": "kb-assistant"}).status_code == 201
            resp = http.post("/api/v1/changes", json={"kind": "firmware", "app": "x"})
            assert resp.status_code == 422 and resp.json()["field"] == "kind"
            resp = http.post("/api/v1/changes", json={"kind": "code"})
            assert resp.status_code == 422 and resp.json()["field"] == "app"
            resp = http.post("/api/v1/changes", json={"kind": "code", "app": "a", "at": "2026-11-22T10:00:00"})
            assert resp.status_code == 422 and resp.json()["field"] == "at"
            assert http.get("/api/v1/changes").status_code == 403  # reading needs viewer
        with fl.client("viewer") as http:
            assert [c["kind"] for c in http.get("/api/v1/changes").json()["changes"]] == ["config", "model", "prompt"]
            got = http.get("/api/v1/changes", params={"app": "support-bot", "kind": "model"}).json()["changes"]
            assert [c["to"] for c in got] == ["gpt-4o-2024-08-06"]
            since = (NOW - timedelta(hours=24)).isoformat()
            got = http.get("/api/v1/changes", params={"app": "support-bot", "since": since}).json()["changes"]
            assert [c["kind"] for c in got] == ["model"]
            assert http.get("/api/v1/changes", params={"kind": "nope"}).status_code == 422

        with db.session() as session:
            rows = changes.changes_between(session, NOW - timedelta(hours=48), NOW + timedelta(minutes=1),
                                           apps=["support-bot"])
            assert [r.kind for r in rows] == ["prompt", "model"]  # oldest first
            assert len(changes.changes_between(session, NOW - timedelta(hours=48), NOW + timedelta(minutes=1))) == 3
            # the snapshot evidence source: the 24 h before detection (and since), for the incident's apps
            incident = SimpleNamespace(detected_at=NOW - timedelta(hours=1), apps=["support-bot"])
            from fireline.ingest.api import change_evidence
            evidence = change_evidence(session=session, incident=incident)
            assert [c["kind"] for c in evidence["changes"]] == ["model"] and evidence["apps"] == ["support-bot"]


def test_evidence_source_is_registered_when_incidents_exist(db: Database) -> None:
    evidence = pytest.importorskip("fireline.incidents.evidence")
    with running(db), db.session() as session:
        assert "changes" in [name for name, _ in evidence.evidence_sources(session)]


def test_cli_change_and_changes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    with running(db) as fl:
        monkeypatch.setenv("FIRELINE_URL", fl.url)

        def cli(role: str, *args: str) -> tuple[int, str]:
            config.reset()
            result = runner.invoke(cli_app, list(args), env={"FIRELINE_TOKEN": fl.keys[role]})
            return result.exit_code, result.output

        code, out = cli("ingest", "change", "--kind", "model", "--app", "support-bot", "--from", "gpt-4o-mini",
                        "--to", "gpt-4.1-mini", "--actor", "alice", "--at", "2026-11-22T09:00:00Z")
        assert code == 0 and "recorded chg_" in out and "gpt-4o-mini -> gpt-4.1-mini" in out and "alice" in out
        code, out = cli("ingest", "change", "--kind", "weather", "--app", "x")
        assert code == 1 and "--kind must be one of" in out
        code, out = cli("ingest", "change", "--kind", "code", "--app", "x", "--at", "yesterday")
        assert code == 1 and "422" in out and "Traceback" not in out
        code, out = cli("viewer", "changes", "--app", "support-bot")
        assert code == 0 and "alice" in out and "chg_" in out  # a Rich table (80 columns here), ids whole
        assert "gpt-4.1-mini" in out and "gpt-4o-mini" not in out  # the version before: --wide
        code, out = cli("viewer", "changes", "--app", "support-bot", "--wide")
        assert code == 0 and "gpt-4o-mini" in out and "gpt-4.1-mini" in out
        code, out = cli("viewer", "changes", "--json")
        assert code == 0 and '"from": "gpt-4o-mini"' in out
    config.reset()
