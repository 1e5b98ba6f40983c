"""Blast radius from the incident's signature: distinct users, sessions, tenants, calls, first occurrence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from fireline.db import Database
from fireline.incidents import service
from tests.incidents.helpers import T0, alert, backdate, finding, store_calls
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def test_blast_radius_counts_what_the_signature_reaches(fl: Fireline) -> None:
    leak = [finding("EMAIL_ADDRESS")]
    specs = [
        # matching: pii_leak on support-bot: 5 calls, 4 users, 3 sessions, 2 tenants
        {"user": "a@x.io", "session_id": "s1", "tenant": "acme", "findings": leak, "minutes": 5},
        {"user": "a@x.io", "session_id": "s1", "tenant": "acme", "findings": leak + [finding("PHONE_NUMBER")],
         "minutes": 6},
        {"user": "b@x.io", "session_id": "s2", "tenant": "acme", "findings": [finding("IBAN_CODE")], "minutes": 7},
        {"user": "c@x.io", "session_id": "s3", "tenant": "globex", "findings": leak, "minutes": 8},
        {"user": "d@x.io", "session_id": None, "tenant": "globex", "findings": leak, "minutes": -600},
        # not matching: another app, only typed-in PII, another detector, outside the window
        {"user": "e@x.io", "app": "docs-bot", "findings": leak, "minutes": 9},
        {"user": "f@x.io", "findings": [finding("EMAIL_ADDRESS", kind="pii_input")], "minutes": 10},
        {"user": "g@x.io", "findings": [finding(None, kind="refusal", detector="refusal")], "minutes": 11},  # type: ignore[arg-type]
        {"user": "h@x.io", "findings": leak, "minutes": -60 * 24 * 40},
    ]
    ids = store_calls(fl.db, specs)
    iid = service.on_alert_fired(fl.db, alert(key="b", severity="P2", at=T0 + timedelta(minutes=30),
                                              tenants=(), models=(), prompt_versions=(), call_ids=(ids[3],)))
    backdate(fl.db, iid, to=T0 + timedelta(minutes=30))
    with fl.client("viewer") as http:
        got = http.get(f"/api/v1/incidents/{iid}/blast-radius").json()
        narrow = http.get(f"/api/v1/incidents/{iid}/blast-radius",
                          params={"since": T0.isoformat()}).json()
    assert (got["calls"], got["users"], got["sessions"], got["tenants"]) == (5, 4, 3, 2)
    # the first occurrence predates detection by 10 h 30 min
    assert got["first_occurrence"] == "2026-11-22T00:00:00.000000Z"
    assert got["lead_time_s"] == 630 * 60
    assert got["pii"] == {"EMAIL_ADDRESS": 4, "IBAN_CODE": 1, "PHONE_NUMBER": 1}
    assert got["signature"]["findings"] == [["pii", "pii_leak"]] and got["signature"]["apps"] == ["support-bot"]
    assert narrow["calls"] == 4 and narrow["first_occurrence"].startswith("2026-11-22T10:05")
