"""The alerts one ingest batch fired, handled together: one transaction, and the findings and
calls that decide each alert's harm and drill read once for all (the batch form of
incidents.service.on_alert_fired, subscribed as its `many` by fireline.wiring).

While monitors fire, most alerts of a batch are updates: the new calls of a group that fires
already, for the open incident that holds the group's dedup key. Those cost four statements for
the whole batch instead of four each: their incidents are found and locked in one (in id order),
their calls linked in one, their `calls_linked` entries stored in one and the incident rows updated
in one flush. What each alert writes is what service._attach writes for it, in the same order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fireline.db import Database, insert_for
from fireline.incidents import bus, correlate
from fireline.incidents.harm import harm_findings, raises, worst_harm
from fireline.incidents.lifecycle import ACTIVE
from fireline.incidents.models import Incident, IncidentDedup, TimelineEntry
from fireline.incidents.scope import merge_scope
from fireline.incidents.service import escalate_harm, link_pairs, open_or_attach
from fireline.incidents.timeline import next_entry
from fireline.signals import Alert, alert_of


def on_alerts_fired(events: list[dict[str, Any]]) -> None:
    """In order (each alert sees what the ones before it opened or linked). All or nothing: when it
    raises, fireline.events hands each alert to on_alert_fired on its own."""
    db: Database = events[0]["db"]
    alerts = [alert_of(e["alert"]) for e in events]

    def run(session: Session) -> None:
        # Calls and findings are stored before their alerts fire, and handling an alert changes neither.
        harmful = [c for a in alerts for c in list(dict.fromkeys(c for c in a.call_ids if c))[:1000]]
        pre = correlate.Prefetched(harm_findings(session, harmful),
                                   correlate.stored_calls(session, [c for a in alerts for c in a.call_ids]))
        updates = Updates(session, pre, alerts)
        for a in alerts:
            if not updates.take(a):
                updates.write()  # what this alert reads (linked calls, the incident rows) is written first
                open_or_attach(session, a, pre)
        updates.write()
    bus.within(db, run)


# The active incidents holding these keys, locked in id order (two batches sharing incidents, or a
# responder's merge, which locks in id order too, cannot deadlock with it), and read afresh.
_BY_KEYS = (select(IncidentDedup.dedup_key, Incident).join(Incident, Incident.id == IncidentDedup.incident_id)
            .where(IncidentDedup.dedup_key.in_(bindparam("keys", expanding=True)), Incident.state.in_(ACTIVE))
            .order_by(Incident.id).with_for_update(of=Incident).execution_options(populate_existing=True))


class Updates:
    """The batch's updates whose dedup key an active incident holds, written together.

    Which incident holds such a key cannot change within the transaction: its row is locked, an
    alert never moves or frees the key of an active incident (it frees stale keys only, adds keys
    that nobody holds, and changes no incident's state), and merges and resolutions wait for the
    lock (PostgreSQL) or the write lock (SQLite). So the keys are looked up once, at the start,
    and nothing is cached beyond the transaction (another worker may resolve or merge next)."""

    def __init__(self, session: Session, pre: correlate.Prefetched, alerts: list[Alert]) -> None:
        self.session, self.pre = session, pre
        self.own: dict[int, str] = {}  # id(alert) -> its own dedup key (drills' keys are prefixed)
        for a in alerts:
            if a.details.get("update"):
                drill = correlate.is_drill(session, a, pre.stored)
                self.own[id(a)] = (correlate.DRILL_PREFIX if drill else "") + a.dedup_key
        keys = list(dict.fromkeys(self.own.values()))
        self.held: dict[str, Incident] = {}
        for i in range(0, len(keys), 1000):
            self.held.update((key, inc) for key, inc in session.execute(_BY_KEYS, {"keys": keys[i:i + 1000]}))
        self.pending: list[tuple[Alert, Incident, str]] = []

    def take(self, alert: Alert) -> bool:
        """Queue an update for the open incident holding its key; False: handle it alone."""
        own = self.own.get(id(alert))
        inc = self.held.get(own) if own is not None else None
        if inc is None or own is None:
            return False
        self.pending.append((alert, inc, own))
        return True

    def write(self) -> None:
        """Link the queued alerts' calls, then per alert, in order, what service._attach does with
        an update: nothing when it linked no new call, else the scope, a `calls_linked` entry and
        the harm's escalation."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        session = self.session
        new = link_pairs(session, [(inc.id, c) for a, inc, _ in pending for c in a.call_ids if c])
        rows: list[dict[str, Any]] = []
        for alert, inc, own in pending:
            linked = 0
            for c in dict.fromkeys(c for c in alert.call_ids if c):
                if (inc.id, c) in new:  # counted for the first alert that brought it
                    new.discard((inc.id, c))
                    linked += 1
            if not linked:
                continue
            merge_scope(session, inc, {**correlate.alert_scope(alert), "dedup_keys": [own]})
            inc.changed_seq = inc.timeline_seq + 1  # the entry appended next
            rows.append(next_entry(inc, "calls_linked", f"alert:{alert.source}", {
                "calls": linked, "call_ids": list(alert.call_ids[:50]), "dedup_key": alert.dedup_key,
                "monitor": alert.monitor}))
            harm = worst_harm(session, alert.call_ids, self.pre.harms)
            if harm is not None and raises(harm, inc.severity):
                escalate_harm(session, inc, harm)
        if rows:
            session.connection().execute(insert_for(session.get_bind().dialect.name)(TimelineEntry), rows)
        session.flush()  # the incidents' heads, scopes and change marks
