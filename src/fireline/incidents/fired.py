"""The alerts one ingest batch fired, handled together: one transaction, and the findings and
calls that decide each alert's harm and drill read once for all (the batch form of
incidents.service.on_alert_fired, subscribed as its `many` by fireline.wiring)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fireline.db import Database
from fireline.incidents import bus, correlate
from fireline.incidents.harm import harm_findings
from fireline.incidents.service import open_or_attach
from fireline.signals import alert_of


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
        for a in alerts:
            open_or_attach(session, a, pre)
    bus.within(db, run)
