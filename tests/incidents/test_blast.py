"""Blast radius: the calls that carry the incident's effect between its onset (the change in rate,
not the earliest matching call) and its containment; linked calls included, a repeated incident's
calls never; unknown without calls; who was reached, exportable for notification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from fireline.calls.models import RawAccess
from fireline.config import Config
from fireline.db import Database
from fireline.incidents import service
from fireline.incidents.models import Incident
from tests.incidents.helpers import T0, alert, backdate, finding, store_calls
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    # The stored calls are from 2026-11-22 (T0): repeats are looked for further back than a week.
    with running(db, Config.model_validate({"incidents": {"repeat_window_days": 3650}})) as server:
        yield server


def set_times(db: Database, iid: str, **cols: Any) -> None:
    with db.writing() as s:
        inc = s.get(Incident, iid)
        assert inc is not None
        for k, v in cols.items():
            setattr(inc, k, v)


LEAK = [finding("EMAIL_ADDRESS")]


def leak_alert(ids: list[str], key: str = "monitor:pii_secret_leak:app=support-bot", **over: Any) -> Any:
    return alert(**{"key": key, "severity": "P1", "tenants": ("acme",), "models": (), "prompt_versions": (),
                    "call_ids": tuple(ids), "details": {"group": "app=support-bot", "condition": "any"}, **over})


def test_blast_radius_runs_from_the_change_in_rate_to_containment(fl: Fireline) -> None:
    # Two days of background: a call every 10 minutes, one in a hundred leaking (a normal bot echoing
    # an address back). Then from T0 a leak wave: 3 calls a minute for 10 minutes, 2 of them leaking,
    # in tenants acme and globex, contained at T0 + 10 min; two leaks slip past the containment.
    specs: list[dict[str, Any]] = []
    for i in range(288):
        specs.append({"id": f"bg-{i}", "minutes": -2880 + i * 10, "user": f"bg{i}@x.io", "session_id": f"bg{i}",
                      "findings": LEAK if i % 100 == 7 else []})
    wave = []
    for m in range(10):
        for j in range(3):
            n = len(wave)
            wave.append({"id": f"w-{n}", "minutes": m + j / 3, "user": f"u{n % 12}@x.io", "session_id": f"s{n % 8}",
                         "tenant": ("acme", "globex")[n % 2], "findings": LEAK if j < 2 else []})
    after = [{"id": f"late-{i}", "minutes": 11 + i, "user": "late@x.io", "findings": LEAK} for i in range(2)]
    other_app = [{"id": "docs-1", "app": "docs-bot", "minutes": 3, "findings": LEAK}]
    typed = [{"id": "typed-1", "minutes": 4, "findings": [finding("EMAIL_ADDRESS", kind="pii_input")]}]
    store_calls(fl.db, specs + wave + after + other_app + typed)
    iid = service.on_alert_fired(fl.db, leak_alert(["w-0", "w-1"]))
    assert iid
    backdate(fl.db, iid, to=T0 + timedelta(minutes=9))
    set_times(fl.db, iid, state="contained", contained_at=T0 + timedelta(minutes=10))
    with fl.client("viewer") as http:
        got = http.get(f"/api/v1/incidents/{iid}/blast-radius").json()
    assert got["status"] == "measured"
    onset = datetime.fromisoformat(got["onset"].replace("Z", "+00:00"))
    assert T0 - timedelta(minutes=1) <= onset <= T0, got["onset"]  # not two days early on the background
    # Every leak from the onset on, the two after containment included (their users were reached too)
    reached = [w for w in wave if w["findings"]] + after
    assert got["calls"] == len(reached) == 22 and got["answered_after_containment"] == 2
    tenants = {w["tenant"] for w in wave if w["findings"]} | {"acme"}  # the late ones: the default tenant
    assert got["users"] == len({w["user"] for w in reached}) == 9
    assert got["sessions"] == len({w["session_id"] for w in wave if w["findings"]}) + 2
    assert got["tenants"] == len(tenants) == 2  # an app-wide leak reaches every tenant
    assert got["first_occurrence"].startswith("2026-11-22T10:00")
    assert got["contained_at"].startswith("2026-11-22T10:10")
    assert got["pii"] == {"EMAIL_ADDRESS": 22}
    assert got["signature"]["findings"] == [["pii", "pii_leak"]] and got["signature"]["apps"] == ["support-bot"]
    for key in ("users", "sessions", "tenants", "calls", "first_occurrence", "pii"):  # the CONTRACT keys
        assert key in got
    with fl.client("viewer") as http:  # the console's chart draws the same calls
        series = http.get(f"/api/v1/incidents/{iid}/blast-radius/series").json()
    assert series["calls"] == got["calls"] == sum(t["total"] for t in series["tenants"])
    assert {t["tenant"] for t in series["tenants"]} == tenants


def test_an_external_alert_without_calls_has_an_unknown_blast_radius(fl: Fireline) -> None:
    store_calls(fl.db, [{"id": f"c{i}", "minutes": i, "findings": LEAK} for i in range(5)])
    iid = service.on_alert_fired(fl.db, alert(key="pd:leak", source="pagerduty", severity="P0"))
    with fl.client("viewer") as http:
        got = http.get(f"/api/v1/incidents/{iid}/blast-radius").json()
    assert got["status"] == "unknown" and got["calls"] is None and got["users"] is None and got["pii"] == {}
    assert "link the affected calls" in got["reason"]


def test_a_repeat_never_folds_in_the_previous_incidents_calls(fl: Fireline) -> None:
    first_ids = store_calls(fl.db, [{"id": f"a{i}", "minutes": i, "findings": LEAK} for i in range(4)])
    first = service.on_alert_fired(fl.db, leak_alert(first_ids))
    assert first
    backdate(fl.db, first, to=T0 + timedelta(minutes=4))
    set_times(fl.db, first, state="resolved", contained_at=T0 + timedelta(minutes=5),
              resolved_at=T0 + timedelta(minutes=6))
    again = store_calls(fl.db, [{"id": "b0", "minutes": 30, "findings": LEAK}])
    repeat = service.on_alert_fired(fl.db, leak_alert(again))
    assert repeat and repeat != first
    with fl.client("viewer") as http:
        got = http.get(f"/api/v1/incidents/{repeat}/blast-radius").json()
        old = http.get(f"/api/v1/incidents/{first}/blast-radius").json()
        inc = http.get(f"/api/v1/incidents/{repeat}").json()
    assert {"id": first, "kind": "repeat_of"} in inc["related"]
    assert got["calls"] == 1 and got["first_occurrence"].startswith("2026-11-22T10:30")
    assert old["calls"] == 4 and old["answered_after_containment"] == 0


def test_who_was_reached_is_exportable_by_a_responder_and_access_logged(fl: Fireline) -> None:
    ids = store_calls(fl.db, [{"id": f"x{i}", "minutes": i, "user": f"p{i % 2}@x.io", "session_id": f"s{i}",
                               "tenant": ("acme", "globex")[i % 2], "findings": LEAK} for i in range(4)])
    iid = service.on_alert_fired(fl.db, leak_alert(ids))
    backdate(fl.db, iid, to=T0 + timedelta(minutes=5))
    with fl.client("viewer") as viewer:
        assert viewer.get(f"/api/v1/incidents/{iid}/affected").status_code == 403
    with fl.client("responder") as http:
        got = http.get(f"/api/v1/incidents/{iid}/affected", params={"reason": "customer notice"}).json()
        csv = http.get(f"/api/v1/incidents/{iid}/affected", params={"format": "csv"})
        blast = http.get(f"/api/v1/incidents/{iid}/blast-radius").json()
    assert len(got["users"]) == blast["users"] == 2 and all(len(u) >= 16 for u in got["users"])
    assert "p0@x.io" not in str(got)  # pseudonyms, never the raw identity
    assert got["tenants"] == ["acme", "globex"] and sorted(got["calls"]) == sorted(ids)
    assert len(got["sessions"]) == blast["sessions"] == 4
    assert csv.status_code == 200 and csv.text.splitlines()[0] == "kind,id"
    assert sum(1 for line in csv.text.splitlines() if line.startswith("user,")) == 2
    with fl.db.session() as s:
        logged = list(s.scalars(select(RawAccess).where(RawAccess.call_id.in_(ids),
                                                        RawAccess.reason.contains("affected export"))))
    assert len(logged) == 8 and sum("customer notice" in (r.reason or "") for r in logged) == 4
    assert {r.role for r in logged} == {"responder"}
    with fl.client("viewer") as http:
        entries = http.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "affected_exported"}).json()
    assert [e["data"]["users"] for e in entries["entries"]] == [2, 2]
