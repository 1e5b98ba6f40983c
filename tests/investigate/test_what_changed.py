"""What changed before onset: the change markers in the 24 h before the first matching call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fireline.db import Database
from tests.support.cli import invoke
from tests.support.fireline import running


def test_changes_before_onset_on_the_api_and_in_the_postmortem(db: Database) -> None:
    onset = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with running(db) as fl:
        with fl.client("ingest") as http:
            calls = [{"id": f"leak-{i}", "app": "support-bot", "tenant": "acme", "user": f"u{i}",
                      "input": [{"role": "user", "content": "who is the account holder?"}],
                      "output": f"It is jane{i}@example.com", "started_at": (onset + timedelta(minutes=i)).isoformat()}
                     for i in range(3)]
            assert http.post("/api/v1/calls", json={"calls": calls}).status_code == 201
            for kind, app, at, frm, to in (("prompt", "support-bot", onset - timedelta(hours=2), "v11", "v12"),
                                           ("model", "support-bot", onset - timedelta(hours=30), "a", "b"),
                                           ("config", "kb-assistant", onset - timedelta(minutes=5), None, None)):
                r = http.post("/api/v1/changes", json={"kind": kind, "app": app, "at": at.isoformat(),
                                                       "from": frm, "to": to, "actor": "deploy-bot"})
                assert r.status_code == 201, r.text
        with fl.client("responder") as http:
            inc = http.post("/api/v1/incidents", json={"title": "PII in answers", "type": "data_leakage",
                                                       "severity": "P1", "apps": ["support-bot"],
                                                       "call_ids": ["leak-0", "leak-1", "leak-2"]}).json()
            got = http.get(f"/api/v1/incidents/{inc['id']}/changes").json()
            assert datetime.fromisoformat(got["onset"]) == onset
            assert [(c["kind"], c["to"]) for c in got["changes"]] == [("prompt", "v12")]
            assert got["changes"][0]["before_onset_s"] == 7200
            wider = http.get(f"/api/v1/incidents/{inc['id']}/changes", params={"hours": 48}).json()
            assert [c["kind"] for c in wider["changes"]] == ["prompt", "model"]  # nearer to onset first
            md = http.get(f"/api/v1/incidents/{inc['id']}/postmortem", params={"format": "md"}).text
            assert "What changed before onset" in md and "prompt change on support-bot (v11 -> v12)" in md
            assert http.get("/api/v1/incidents/INC-nope/changes").status_code == 404
        code, text = invoke(fl, "viewer", "what-changed", inc["id"])
        assert code == 0 and "prompt" in text and "v12" in text and "120 min" in text
