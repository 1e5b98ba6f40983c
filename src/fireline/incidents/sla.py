"""Response SLAs: due times per severity (config section `sla`) and the periodic breach check.

    sla:
      check_interval_s: 5
      P0: {ack: 15m, contain: 15m}     # numbers are minutes; strings take s, m, h or d
      P1: {ack: 1h, contain: 1h}

Both clocks run from detection (when Fireline opened the incident, never a source's own
timestamp) and are set once, at open (again only when a person changes the severity). The
ack clock runs until someone acknowledges, contained or not; the contain clock until the
incident is contained or over. A breach is written once per clock: the conditional UPDATE on
`*_breached_at IS NULL` makes a second checker (another replica) a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fireline import background, durations
from fireline.config import Config
from fireline.config_keys import check_keys, check_section
from fireline.db import Database, utcnow
from fireline.errors import Invalid
from fireline.incidents import bus
from fireline.incidents.metrics import DRILL_SLA_BREACHES, SLA_BREACHES
from fireline.incidents.models import Incident
from fireline.incidents.timeline import append_locked, lock_incident, stamp

log = logging.getLogger("fireline.incidents.sla")
DEFAULT_MINUTES = {"P0": 15, "P1": 60, "P2": 240, "P3": 1440}
ACTIVE_STATES = ("detected", "acknowledged", "contained")
CLOCKS = {"ack": ("ack_due_at", "ack_breached_at", ACTIVE_STATES),
          "contain": ("contain_due_at", "contain_breached_at", ("detected", "acknowledged"))}


def running(inc: Incident, clock: str) -> bool:
    """Is this clock still running for the incident?"""
    if clock == "ack" and inc.acknowledged_at is not None:
        return False
    return inc.state in CLOCKS[clock][2]


def parse_duration(value: Any, where: str) -> timedelta:
    try:
        return durations.parse_duration(value)
    except ValueError as e:
        raise Invalid(f"sla.{where}: {e}", field=f"sla.{where}") from None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    ack: dict[str, timedelta]
    contain: dict[str, timedelta]
    interval_s: float

    @classmethod
    def from_config(cls, config: Config | None) -> SlaPolicy:
        section = (config.section("sla") if config else None) or {}
        check_section(section, {**dict.fromkeys(DEFAULT_MINUTES, "mapping"), "check_interval_s": "positive"}, "sla")
        ack = {s: timedelta(minutes=m) for s, m in DEFAULT_MINUTES.items()}
        contain = dict(ack)
        for sev in DEFAULT_MINUTES:
            row = section.get(sev) or {}
            check_keys(row, ("ack", "contain"), f"sla.{sev}")  # durations: parse_duration checks them
            if "ack" in row:
                ack[sev] = parse_duration(row["ack"], f"{sev}.ack")
            if "contain" in row:
                contain[sev] = parse_duration(row["contain"], f"{sev}.contain")
        interval = float(section.get("check_interval_s", 5.0))
        return cls(ack=ack, contain=contain, interval_s=max(interval, 0.05))

    def set_due(self, inc: Incident) -> None:
        inc.ack_due_at = inc.detected_at + self.ack[inc.severity]
        inc.contain_due_at = inc.detected_at + self.contain[inc.severity]


_config: Config | None = None


def set_config(config: Config | None) -> None:
    """The running app's config (startup); handlers without an app fall back to FIRELINE_CONFIG."""
    global _config
    _config = config


def current_config() -> Config:
    if _config is not None:
        return _config
    from fireline.config import get_config

    return get_config()


def policy() -> SlaPolicy:
    return SlaPolicy.from_config(current_config())


def breach(session: Session, inc: Incident, clock: str, now: datetime) -> bool:
    """Record one clock's breach if it is due, still running and not yet recorded."""
    due_col, breached_col, _ = CLOCKS[clock]
    due = getattr(inc, due_col)
    if due is None or due > now or getattr(inc, breached_col) is not None:
        return False
    if not running(inc, clock):  # the clock stopped in time (transitions check first)
        return False
    done = session.execute(update(Incident).where(Incident.id == inc.id, getattr(Incident, breached_col).is_(None))
                           .values({breached_col: now}).execution_options(synchronize_session=False))
    if not done.rowcount:  # type: ignore[attr-defined]
        return False
    setattr(inc, breached_col, now)
    append_locked(session, inc, "sla_breached", "fireline", {"clock": clock, "due_at": stamp(due),
                                                             "severity": inc.severity})
    labels = (inc.severity, inc.type, clock)
    counter = DRILL_SLA_BREACHES if inc.drill else SLA_BREACHES
    bus.after_commit(session, lambda: counter.labels(*labels).inc())
    bus.emit(session, "incident.sla_breached", incident_id=inc.id, clock=clock)
    return True


def check_all(db: Database, now: datetime | None = None) -> int:
    """One pass over the open incidents with a clock past due; returns breaches recorded."""
    now = now or utcnow()
    with db.session() as s:
        candidates = list(s.scalars(select(Incident.id).where(
            Incident.state.in_(ACTIVE_STATES),
            or_((Incident.ack_due_at <= now) & Incident.ack_breached_at.is_(None)
                & Incident.acknowledged_at.is_(None),
                (Incident.contain_due_at <= now) & Incident.contain_breached_at.is_(None)
                & Incident.state.in_(CLOCKS["contain"][2])))))
    count = 0
    for incident_id in candidates:
        def one(session: Session, incident_id: str = incident_id) -> int:
            inc = lock_incident(session, incident_id)
            return sum(breach(session, inc, clock, now) for clock in CLOCKS)
        count += bus.within(db, one)
    return count


async def loop(app: FastAPI, policy: SlaPolicy) -> None:
    await background.every("incident-sla", background.in_thread(check_all, app.state.db), policy.interval_s,
                           first_delay=0, only_if=app.state.leader.is_leader)
