"""One server's detection: the ingest processor, the canary cache, the monitor engine and its
clock, and what happens when a monitor fires (alert history row, then "alert.fired")."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fireline.calls.models import Call
from fireline.calls.service import PreparedCall
from fireline.config import Config
from fireline.db import Database
from fireline.detect import rebuild, reports
from fireline.detect.canaries import CanaryCache
from fireline.detect.changes import ChangeTracker
from fireline.detect.models import MonitorAlert, Report
from fireline.detect.monitor_defs import cohort_attributes, load_monitors
from fireline.detect.monitors import Engine, Fired
from fireline.detect.service import Detection, fact_of, warm_tool_baseline

log = logging.getLogger("fireline.detect")

CANARY_REFRESH_S = 5.0


class DetectRuntime:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.cohorts = cohort_attributes(config.section("cohorts"))
        self.defs = load_monitors(config.section("monitors"), cohorts=self.cohorts)
        self.canaries = CanaryCache()
        self.detection = Detection(config, self.canaries)
        self.engine = Engine(self.defs, self.emit)
        self.changes = ChangeTracker(db)
        self.pending: set[str] = set()  # call ids that reports wait for
        self.tick_seconds = 1.0
        self._last_canary_refresh = 0.0
        self.rebuilt: dict[str, int] = {}

    # ---- lifecycle ----
    def start(self) -> None:
        """Load canaries and history (the api module then routes ingest and the bus here)."""
        self.canaries.refresh(self.db)
        self._last_canary_refresh = time.monotonic()
        t0 = time.perf_counter()
        self.rebuilt = rebuild.rebuild(self.db, self.engine)
        warm_tool_baseline(self.db, self.detection.baseline)
        self.changes.warm()
        with self.db.session() as session:
            self.pending = reports.pending_ids(session)
        log.info("monitors rebuilt from %s rows in %.2f s", self.rebuilt, time.perf_counter() - t0)

    async def clock(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            await asyncio.to_thread(self.tick)

    def tick(self) -> None:
        self.engine.tick()
        if time.monotonic() - self._last_canary_refresh >= CANARY_REFRESH_S:
            self._last_canary_refresh = time.monotonic()
            self.canaries.refresh(self.db)  # tokens added through another replica
            with self.db.writing() as session:  # reports waiting here or on another replica
                reports.expire_pending(session)
                self.pending = reports.pending_ids(session)

    # ---- data in ----
    def process(self, calls: list[PreparedCall], **_: Any) -> None:
        """The "calls.prepared" handler: detectors add findings before the batch is stored."""
        self.detection.process(calls)

    def on_ingested(self, calls: list[PreparedCall], **_: Any) -> None:
        self.engine.observe([fact_of(p, self.cohorts) for p in calls])
        if self.pending:
            self.join({p.id: p.row for p in calls if p.id in self.pending})
        self.changes.observe(calls)

    def wait_for(self, call_id: str) -> None:
        """A report is pending on this call: join it when the call lands (or now, if it just did)."""
        self.pending.add(call_id)
        with self.db.session() as session:
            call = session.get(Call, call_id)
            row = {c: getattr(call, c) for c in ("id", "app", "tenant", "model", "model_resolved", "prompt_version",
                                                "tools", "user_pseudonym")} if call is not None else None
        if row is not None:
            self.join({call_id: row})

    def join(self, rows: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        with self.db.writing() as session:
            joined = reports.join_pending(session, rows)
        self.pending.difference_update(rows)
        if joined:
            self.engine.observe([reports.fact_of(r) for r in joined])

    def on_report(self, report: Report) -> None:
        self.engine.observe([reports.fact_of(report)])

    # ---- alerts out ----
    def emit(self, fired: list[Fired]) -> None:
        new = [f for f in fired if not f.resolved]
        if new:
            with self.db.writing() as session:
                for f in new:
                    a = f.alert
                    session.add(MonitorAlert(dedup_key=a.dedup_key, monitor=f.monitor.name, group=f.group,
                                             fired_at=a.at, type=a.type, severity=a.severity,
                                             value=float(a.details.get("value") or 0.0),
                                             baseline=a.details.get("baseline"), call_ids=list(a.call_ids)))
        for f in fired:
            topic = "alert.resolved" if f.resolved else "alert.fired"
            log.info("%s %s", topic, f.alert.dedup_key)
            self.db.bus.publish(topic, db=self.db, alert=f.alert)
