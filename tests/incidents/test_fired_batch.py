"""The alerts of one ingest batch, handled together (incidents.fired): the new calls of firing
groups for their open incidents are written in a few statements for the whole batch, and every
incident ends exactly as when the same alerts are handled one by one."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event

from fireline.db import Database, utcnow
from fireline.incidents import fired, service
from fireline.incidents.timeline import entries, verify
from fireline.signals import Alert
from tests.incidents.helpers import alert, finding, store_calls

AT = utcnow()


def update(tag: str, key: str, calls: list[str], **over: Any) -> Alert:
    """New calls of a monitor group that fires already."""
    fields: dict[str, Any] = {"details": {"update": True, "condition": "any", "group": f"app=app-{tag}"}, **over}
    return alert(key=f"{tag}:{key}", apps=(f"app-{tag}",), call_ids=tuple(calls), at=AT, **fields)


def scenario(db: Database, tag: str) -> tuple[list[Alert], list[str]]:
    """Two open incidents of app-<tag> and a batch of alerts about them (the calls are <tag>-0..7)."""
    specs = [{"id": f"{tag}-{i}", "app": f"app-{tag}", "findings": [finding()]} for i in range(7)]
    specs.append({"id": f"{tag}-7", "app": f"app-{tag}", "findings": [finding("-", "canary_leak", "canary")]})
    specs += [{"id": f"{tag}-{i}", "app": f"app-{tag}", "metadata": {"cohort": "drill-1"}, "findings": [finding()]}
              for i in (8, 9)]  # a fire drill's calls on the same app
    c = store_calls(db, specs)
    service.on_alert_fired(db, update(tag, "leak", [c[0]], details={}))
    service.on_alert_fired(db, update(tag, "halluc", [c[1]], type="hallucination", details={}))
    service.on_alert_fired(db, update(tag, "leak", [c[8]], details={}))  # the drill's own incident
    batch = [
        update(tag, "leak", [c[2], c[3]]),
        update(tag, "halluc", [c[3], c[4]], type="hallucination"),  # c3 belongs to both incidents
        update(tag, "leak", [c[3], c[5]]),  # c3 linked by the first update: one new call
        update(tag, "leak", [c[0]]),  # nothing new: no entry
        # not an update: it names c5, which the leak incident holds only since the third alert
        alert(key=f"{tag}:other", type="harmful_output", apps=(f"app-{tag}",), call_ids=(c[5],), at=AT),
        update(tag, "tool", [c[6]], type="agentic_harm"),  # no incident holds its key: handled alone
        update(tag, "leak", [c[9]]),  # the drill's: its incident, under the drill's key
        update(tag, "leak", [c[7]]),  # another tenant's data served: the leak incident becomes P0
    ]
    return batch, c


def outcome(db: Database, tag: str) -> str:
    """Every incident of app-<tag> as a user reads it, times left out, with the tag made neutral."""
    out = []
    with db.session() as s:
        for inc in sorted(service.list_incidents(s, app=f"app-{tag}"), key=lambda i: i.dedup_key or ""):
            assert verify(s, inc.id).ok
            chain = [{"seq": e.seq, "actor": e.actor, "kind": e.kind,
                      "data": {k: v for k, v in e.data.items() if not k.endswith("at")}}
                     for e in entries(s, inc.id)]
            out.append({"key": inc.dedup_key, "state": inc.state, "severity": inc.severity, "type": inc.type,
                        "scope": inc.scope, "calls": service.linked_call_ids(s, inc.id), "timeline": chain,
                        "changed_seq": inc.changed_seq})
    return json.dumps(out, sort_keys=True).replace(tag, "T")


def test_a_batch_of_updates_ends_as_one_by_one(db: Database) -> None:
    together, _ = scenario(db, "qx")
    fired.on_alerts_fired([{"db": db, "alert": a} for a in together])  # raises rather than fall back
    alone, _ = scenario(db, "qz")
    for a in alone:
        service.on_alert_fired(db, a)
    assert outcome(db, "qx") == outcome(db, "qz")
    result = json.loads(outcome(db, "qx"))
    leak, drill = (i for i in result if i["key"] == "T:leak")
    if leak["calls"] == ["T-8", "T-9"]:
        leak, drill = drill, leak
    assert drill["calls"] == ["T-8", "T-9"]
    linked = [e["data"]["calls"] for e in leak["timeline"] if e["kind"] == "calls_linked"]
    assert linked == [2, 1, 1]  # c2+c3, then c5, then c7; the update bringing c0 again wrote nothing
    assert leak["severity"] == "P0" and any(e["kind"] == "related_alert" for e in leak["timeline"])


def test_the_updates_of_a_batch_cost_a_few_statements_whatever_their_number(db: Database) -> None:
    calls = store_calls(db, [{"id": f"u-{i}", "app": f"app-{i % 8}", "findings": [finding()]} for i in range(40)])
    for n in range(8):
        service.on_alert_fired(db, update(str(n), "leak", [calls[n]], details={}))
    seen: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        fired.on_alerts_fired([{"db": db, "alert": update(str(n), "leak", calls[8 + 4 * n:12 + 4 * n])}
                               for n in range(8)])
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    def count(start: str, *, mentions: str = "") -> int:
        return sum(1 for st in seen if st.startswith(start) and mentions in st)

    # one lookup of the keys (their incidents locked), one insert of the links, one of the entries
    assert count("SELECT", mentions="incident_dedup") == 1
    assert count("INSERT INTO incident_calls") == 1
    assert count("INSERT INTO incident_timeline") == 1
    assert count("UPDATE incidents") == 1
    with db.session() as s:
        for inc in service.list_incidents(s):
            assert len(service.linked_call_ids(s, inc.id)) == 5
            assert [e.kind for e in entries(s, inc.id)] == ["opened", "calls_linked"]
