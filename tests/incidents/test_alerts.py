"""Alerts open incidents (once per dedup key, even when racing) and attach to the open one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from fireline.db import Database, utcnow
from fireline.incidents import fired, service, sla
from fireline.incidents.lifecycle import transition
from fireline.incidents.timeline import entries, stamp, verify
from tests.incidents.helpers import alert, finding, store_calls

OURS = {"opened", "alert", "state", "snapshot", "alert_resolved"}  # other parts append their own kinds


@pytest.fixture
def seen(db: Database) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The incidents part's alert handlers on db's bus (as fireline.wiring does), and what it publishes."""
    got: list[tuple[str, dict[str, Any]]] = []
    db.bus.subscribe("alert.fired", service.on_alert_fired)
    db.bus.subscribe("alert.acknowledged", service.on_alert_acknowledged)
    db.bus.subscribe("alert.resolved", service.on_alert_resolved)
    for t in ("incident.opened", "incident.changed", "incident.sla_breached"):
        db.bus.subscribe(t, lambda t=t, **kw: got.append((t, kw)))
    yield got


def open_incidents(db: Database) -> list[Any]:
    with db.session() as s:
        return service.list_incidents(s)


def test_first_alert_opens_and_later_alerts_attach(db: Database, seen: list[Any]) -> None:
    ids = store_calls(db, [{"findings": [finding()]} for _ in range(3)])
    db.bus.publish_strict("alert.fired", db=db, alert=alert(call_ids=(ids[0],)))
    db.bus.publish_strict("alert.fired", db=db, alert=alert(call_ids=(ids[1], ids[2]), tenants=("globex",)))
    (inc,) = open_incidents(db)
    assert inc.state == "detected" and inc.type == "data_leakage" and inc.severity == "P1"
    assert inc.scope["tenants"] == ["acme", "globex"] and inc.scope["models"] == ["gpt-4o"]
    with db.session() as s:
        assert service.linked_call_ids(s, inc.id) == sorted(ids)
        kinds = [e.kind for e in entries(s, inc.id) if e.kind in OURS]
        assert kinds == ["opened", "alert"]
        assert verify(s, inc.id).ok
    opened = [p for t, p in seen if t == "incident.opened"]
    assert len(opened) == 1 and opened[0]["incident_id"] == inc.id and opened[0]["apps"] == ["support-bot"]
    assert opened[0]["db"] is db and opened[0]["severity"] == "P1" and opened[0]["type"] == "data_leakage"


def test_racing_alerts_open_one_incident(db: Database) -> None:
    barrier = threading.Barrier(8)

    def fire(i: int) -> None:
        barrier.wait()
        service.on_alert_fired(db, alert(key="race", title=f"alert {i}"))

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (inc,) = open_incidents(db)
    with db.session() as s:
        kinds = [e.kind for e in entries(s, inc.id)]
        assert kinds.count("opened") == 1 and kinds.count("alert") == 7
        assert verify(s, inc.id).ok


def test_acknowledged_and_resolved_alerts(db: Database, seen: list[Any]) -> None:
    db.bus.publish_strict("alert.fired", db=db, alert=alert())
    db.bus.publish_strict("alert.acknowledged", db=db, alert=alert())
    db.bus.publish_strict("alert.resolved", db=db, alert=alert())
    (inc,) = open_incidents(db)
    assert inc.state == "acknowledged" and inc.commander is None  # a pager ack names no commander
    with db.session() as s:
        kinds = [e.kind for e in entries(s, inc.id) if e.kind in OURS]
    assert kinds == ["opened", "state", "snapshot", "alert_resolved"]
    changed = [p for t, p in seen if t == "incident.changed"]
    assert changed == [{"db": db, "incident_id": inc.id, "state": "acknowledged", "actor": "alert:monitor",
                        "event": "acknowledged", "drill": False}]


def test_after_resolution_the_same_key_opens_a_new_incident(db: Database) -> None:
    first = service.on_alert_fired(db, alert())
    transition(db, first, "ack", "alice")
    transition(db, first, "resolve", "alice")
    second = service.on_alert_fired(db, alert())
    assert second != first
    third = service.on_alert_fired(db, alert())
    assert third == second


def test_triage_matrix_sets_severity_and_playbook(db: Database) -> None:
    from fireline.config import Config
    from fireline.incidents import sla

    sla.set_config(Config.model_validate({"triage": {"data_leakage": {
        "playbook": "leak-response", "signals": {"canary": {"severity": "P0", "playbook": "cross-tenant"}}}}}))
    try:
        a = service.on_alert_fired(db, alert(key="a", signal="canary"))
        b = service.on_alert_fired(db, alert(key="b", signal="pii", severity="P2", apps=("docs-bot",)))
        c = service.on_alert_fired(db, alert(key="c", type="no_such_type", severity="P9", apps=("billing-bot",)))
    finally:
        sla.set_config(None)
    with db.session() as s:
        ia, ib, ic = (service.get_incident(s, i) for i in (a, b, c))
    assert (ia.severity, ia.playbook) == ("P0", "cross-tenant")
    assert (ib.severity, ib.playbook) == ("P2", "leak-response")  # the alert's own severity
    assert ic.type == "availability" and ic.severity == "P1"  # unknown type and severity fall back


def test_sla_clocks_run_once_from_detection_not_from_the_source_timestamp(db: Database) -> None:
    """An alert whose source time is two hours old (a PagerDuty `timestamp`) opens an incident
    detected now: its clocks are not born breached, and no breach is logged at once."""
    at = utcnow() - timedelta(hours=2)
    before = utcnow()
    inc_id = service.on_alert_fired(db, alert(severity="P0", at=at))
    with db.session() as s:
        inc = service.get_incident(s, inc_id)
        opened = next(e for e in entries(s, inc_id) if e.kind == "opened")
    assert before <= inc.detected_at <= utcnow()
    assert inc.ack_due_at == inc.detected_at + timedelta(minutes=15)
    assert inc.contain_due_at == inc.detected_at + timedelta(minutes=15)
    assert opened.data["at"] == stamp(at)  # the source's own time is kept on the timeline
    assert sla.check_all(db) == 0
    assert sla.check_all(db, now=inc.detected_at + timedelta(minutes=16)) == 2  # each clock once, when due
    assert sla.check_all(db, now=inc.detected_at + timedelta(minutes=30)) == 0


def test_alerts_of_one_batch_are_handled_in_one_transaction_as_one_by_one(db: Database) -> None:
    """on_alerts_fired (the batch form, wired as `many`) gives what on_alert_fired gives alert by
    alert: the second alert of a key attaches to the incident the first one opened meanwhile."""
    db.bus.subscribe("alert.fired", service.on_alert_fired, many=fired.on_alerts_fired)
    ids = store_calls(db, [{"findings": [finding()]} for _ in range(4)])
    db.bus.publish_durable_many("alert.fired", [
        (None, {"db": db, "alert": alert(call_ids=(ids[0],))}),
        (None, {"db": db, "alert": alert(call_ids=(ids[1], ids[2]), tenants=("globex",))}),
        (None, {"db": db, "alert": alert(key="other", type="hallucination", call_ids=(ids[3],))}),
    ])
    incs = {i.dedup_key: i for i in open_incidents(db)}
    assert set(incs) == {"leak:support-bot", "other"}
    leak = incs["leak:support-bot"]
    assert leak.scope["tenants"] == ["acme", "globex"]
    with db.session() as s:
        assert service.linked_call_ids(s, leak.id) == sorted(ids[:3])
        assert [e.kind for e in entries(s, leak.id) if e.kind in OURS] == ["opened", "alert"]
        assert verify(s, leak.id).ok and verify(s, incs["other"].id).ok
