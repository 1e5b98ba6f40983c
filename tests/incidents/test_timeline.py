"""The timeline is a hash chain: verify recomputes it and names the first broken link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, text, update

from fireline.db import Database
from fireline.incidents import service
from fireline.incidents.models import TimelineEntry
from fireline.incidents.timeline import GENESIS, entries
from tests.incidents.helpers import alert
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def busy_incident(fl: Fireline) -> str:
    iid = service.on_alert_fired(fl.db, alert(key="t", type="bias", severity="P2"))
    with fl.client("responder") as http:
        for i in range(4):
            http.post(f"/api/v1/incidents/{iid}/notes", json={"text": f"note {i}"})
        http.post(f"/api/v1/incidents/{iid}/ack")
    return iid


def test_chain_links_each_entry_to_the_previous(fl: Fireline) -> None:
    iid = busy_incident(fl)
    with fl.client("viewer") as http:
        got = http.get(f"/api/v1/incidents/{iid}/timeline").json()["entries"]
    assert [e["seq"] for e in got] == list(range(1, len(got) + 1))
    assert got[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(got, got[1:], strict=False))


def test_an_altered_row_is_caught_and_named(fl: Fireline) -> None:
    iid = busy_incident(fl)
    with fl.db.writing() as s:
        s.execute(update(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq == 3)
                  .values(data={"text": "nothing to see here"}))
    with fl.client("viewer") as http:
        result = http.get(f"/api/v1/incidents/{iid}/verify").json()
    assert result["ok"] is False and result["first_broken"] == 3 and "altered" in result["reason"]


def test_raw_sql_edit_of_the_actor_is_caught(fl: Fireline) -> None:
    iid = busy_incident(fl)
    with fl.db.writing() as s:
        s.execute(text("UPDATE incident_timeline SET actor = 'mallory' WHERE incident_id = :i AND seq = 2"),
                  {"i": iid})
    with fl.client("viewer") as http:
        assert http.get(f"/api/v1/incidents/{iid}/verify").json()["first_broken"] == 2


def test_deleted_entries_are_caught_in_the_middle_and_at_the_end(fl: Fireline) -> None:
    iid = busy_incident(fl)
    with fl.db.session() as s:
        last = entries(s, iid)[-1].seq
    with fl.db.writing() as s:
        s.execute(delete(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq == last))
    with fl.client("viewer") as http:
        tail = http.get(f"/api/v1/incidents/{iid}/verify").json()
        assert tail["ok"] is False and tail["first_broken"] == last
    with fl.db.writing() as s:
        s.execute(delete(TimelineEntry).where(TimelineEntry.incident_id == iid, TimelineEntry.seq == 2))
    with fl.client("viewer") as http:
        middle = http.get(f"/api/v1/incidents/{iid}/verify").json()
    assert middle["ok"] is False and middle["first_broken"] == 2
