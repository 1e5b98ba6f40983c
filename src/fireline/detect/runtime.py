"""One server's detection: the ingest processor, the canary cache, the monitor engine and its
clock, and what happens when a monitor fires (alert history row, then "alert.fired")."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fireline.calls.service import PreparedCall
from fireline.config import Config
from fireline.db import Database
from fireline.detect import rebuild, reports
from fireline.detect.canaries import CanaryCache
from fireline.detect.models import MonitorAlert, Report
from fireline.detect.monitor_defs import load_monitors
from fireline.detect.monitors import Engine, Fired
from fireline.detect.service import Detection, fact_of, warm_tool_baseline

log = logging.getLogger("fireline.detect")

CANARY_REFRESH_S = 5.0


class DetectRuntime:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.defs = load_monitors(config.section("monitors"))
        self.canaries = CanaryCache()
        self.detection = Detection(config, self.canaries)
        self.engine = Engine(self.defs, self.emit)
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

    # ---- data in ----
    def process(self, calls: list[PreparedCall], **_: Any) -> None:
        """The "calls.prepared" handler: detectors add findings before the batch is stored."""
        self.detection.process(calls)

    def on_ingested(self, calls: list[PreparedCall], **_: Any) -> None:
        self.engine.observe([fact_of(p) for p in calls])

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
