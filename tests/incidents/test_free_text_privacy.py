"""Incident titles, summaries, notes and reasons go through the PII and secret pass before they
are stored: what a responder pastes from a customer's message keeps no name, card or key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from fireline.config import Config
from fireline.db import Database
from fireline.incidents.models import Incident, TimelineEntry
from tests.support.fireline import Fireline, running

CARD = "4111 1111 1111 1111"
KEY = "sk-proj-Zq8mW3xV9tR2pL7nK4jH6gF1dS5aQ0eYcUbIo"
PASSWORD = "hunter2-Wobble"
PASTED = f"Maria Gonzalez wrote from maria.gonzalez@example.com: card {CARD}, password={PASSWORD}, key {KEY}"
CLEAR = (CARD, KEY, PASSWORD, "maria.gonzalez@example.com", "Maria Gonzalez")


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db, Config.model_validate({"auto_contain": {}})) as server:
        yield server


def test_titles_notes_and_reasons_are_scrubbed_before_they_are_stored(fl: Fireline) -> None:
    with fl.client("responder") as http:
        made = http.post("/api/v1/incidents", json={"title": f"Leak: {PASTED}", "type": "data_leakage",
                                                    "summary": PASTED, "apps": ["support-bot"]})
        assert made.status_code == 201, made.text
        inc = made.json()
        assert "<CREDIT_CARD>" in inc["title"] and "<EMAIL_ADDRESS>" in inc["title"]
        iid = inc["id"]
        assert http.post(f"/api/v1/incidents/{iid}/notes", json={"text": PASTED}).status_code in (200, 201)
        moved = http.post(f"/api/v1/incidents/{iid}/contain", json={"reason": f"contained after {PASTED}"})
        assert moved.status_code == 200, moved.text
        entries = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
        note = next(e for e in entries if e["kind"] == "note")
        assert "<PASSWORD>" in note["data"]["text"] and "<API_KEY>" in note["data"]["text"]
        # the chain still verifies: the scrubbed text is what was hashed and signed
        assert http.get(f"/api/v1/incidents/{iid}/verify").json()["ok"] is True
    with fl.db.session() as s:
        stored = [s.get(Incident, iid).title, s.get(Incident, iid).summary]  # type: ignore[union-attr]
        stored += [str(e.data) for e in s.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == iid))]
    text = "\n".join(x or "" for x in stored)
    for value in CLEAR:
        assert value not in text, value


def test_the_reason_of_a_raw_read_is_scrubbed_in_the_access_log(fl: Fireline) -> None:
    from tests.incidents.helpers import store_calls

    (call_id,) = store_calls(fl.db, [{}])
    with fl.client("responder") as http:
        raw = http.get(f"/api/v1/calls/{call_id}", params={"raw": "true", "reason": f"triage: {PASTED}"})
        assert raw.status_code == 200, raw.text
    with fl.client("admin") as admin:
        (entry,) = admin.get("/api/v1/access-log", params={"call_id": call_id}).json()["entries"]
    assert entry["reason"].startswith("triage: ") and "<CREDIT_CARD>" in entry["reason"]
    assert not [v for v in CLEAR if v in entry["reason"]]
