"""SLA clocks: a breach is written once per clock, publishes an event, and the server checks by itself."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.errors import Invalid
from fireline.incidents import edits, service, sla
from fireline.incidents.lifecycle import transition
from fireline.incidents.timeline import entries
from tests.incidents.helpers import alert, backdate
from tests.support.fireline import running


def breaches(db: Database, iid: str) -> list[dict[str, Any]]:
    with db.session() as s:
        return [e.data for e in entries(s, iid, kind="sla_breached")]


def test_breach_is_recorded_once_per_clock_and_published(db: Database) -> None:
    got: list[dict[str, Any]] = []
    handler = lambda **kw: got.append(kw)  # noqa: E731
    db.bus.subscribe("incident.sla_breached", handler)
    try:
        late = service.on_alert_fired(db, alert(key="late", type="bias", severity="P3"))
        backdate(db, late, timedelta(hours=30))
        fresh = service.on_alert_fired(db, alert(key="fresh", type="bias", severity="P3", apps=("docs-bot",)))
        assert sla.check_all(db) == 2
        assert sla.check_all(db) == 0
    finally:
        db.bus.unsubscribe("incident.sla_breached", handler)
    assert sorted(b["clock"] for b in breaches(db, late)) == ["ack", "contain"]
    assert breaches(db, fresh) == []
    assert sorted((g["incident_id"], g["clock"]) for g in got) == [(late, "ack"), (late, "contain")]
    with db.session() as s:
        inc = service.get_incident(s, late)
    assert inc.ack_breached_at is not None and inc.contain_breached_at is not None


def test_a_late_ack_records_the_breach_before_the_clock_stops(db: Database) -> None:
    iid = service.on_alert_fired(db, alert(key="k", type="bias", severity="P2"))
    backdate(db, iid, timedelta(hours=5))
    transition(db, iid, "ack", "alice")
    assert [b["clock"] for b in breaches(db, iid)] == ["ack", "contain"]
    transition(db, iid, "contain", "alice")
    assert sla.check_all(db) == 0


def test_severity_change_moves_the_due_times(db: Database) -> None:
    iid = service.on_alert_fired(db, alert(key="s", type="bias", severity="P3"))
    edits.set_severity(db, iid, "P1", "alice", "more users affected")
    with db.session() as s:
        inc = service.get_incident(s, iid)
    assert inc.ack_due_at == inc.detected_at + timedelta(hours=1)


def test_config_and_the_periodic_check_in_the_server(db: Database) -> None:
    config = Config.model_validate({"sla": {"check_interval_s": 0.05, "P3": {"ack": "1s", "contain": "1.5s"},
                                            "P2": {"contain": 0.5}}})
    policy = sla.SlaPolicy.from_config(config)
    assert policy.ack["P3"] == timedelta(seconds=1) and policy.contain["P3"] == timedelta(seconds=1.5)
    assert policy.contain["P2"] == timedelta(seconds=30)
    assert policy.ack["P0"] == timedelta(minutes=15)
    with pytest.raises(Invalid, match="sla.P1.ack"):
        sla.SlaPolicy.from_config(Config.model_validate({"sla": {"P1": {"ack": "soon"}}}))
    with running(db, config) as fl:
        iid = service.on_alert_fired(db, alert(key="p", type="bias", severity="P3"))
        deadline = time.monotonic() + 10
        while len(breaches(db, iid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with fl.client("viewer") as http:
            inc = http.get(f"/api/v1/incidents/{iid}").json()
    assert sorted(b["clock"] for b in breaches(db, iid)) == ["ack", "contain"]
    assert inc["sla"]["ack_breached_at"] and inc["sla"]["contain_breached_at"]
