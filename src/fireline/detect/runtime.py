"""One server's detection: the ingest processor, the canary cache, the monitor engine and its
clock, and what happens when a monitor fires (alert history row, then "alert.fired")."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fireline import background, outbox
from fireline.calls.models import Call
from fireline.calls.service import PreparedCall
from fireline.config import Config
from fireline.counters import WindowCounter
from fireline.db import Database
from fireline.detect import rebuild, reports
from fireline.detect.canaries import CanaryCache
from fireline.detect.changes import ChangeTracker
from fireline.detect.facts import Fact
from fireline.detect.feed import Feed
from fireline.detect.firing import Fired
from fireline.detect.models import MonitorAlert, Report
from fireline.detect.monitor_defs import cohort_attributes, load_monitors
from fireline.detect.monitors import Engine
from fireline.detect.rule_alerts import RuleAlerts, RuleMeta
from fireline.detect.service import (
    NOT_PRODUCTION,
    Detection,
    budget_meta,
    fact_of,
    facts_from_db,
    policy_meta,
    rule_calls_from_db,
    session_meta,
    warm_tool_baseline,
)
from fireline.events import where
from fireline.metrics import ALERT_WRITE_FAILURES, RECORDS_SKIPPED
from fireline.signals import Alert, alert_to_json

log = logging.getLogger("fireline.detect")

CANARY_REFRESH_S = 5.0


class DetectRuntime:
    def __init__(self, db: Database, config: Config, counter: WindowCounter | None = None,
                 feed: Feed | None = None) -> None:
        self.db = db
        # Several processes: the others' facts come through `feed`, and only the leader records and
        # delivers what fires: a known follower (`following`, set by fireline.wiring) leaves it to the
        # leader. While the election cannot be held (database away), a process records what it sees:
        # a failed write is retried, a rare duplicate merges into the same incident by dedup key.
        self.feed = feed
        self.following: Callable[[], bool] = lambda: False
        self.config = config
        self.cohorts = cohort_attributes(config.section("cohorts"))
        self.defs = load_monitors(config.section("monitors"), cohorts=self.cohorts)
        self.canaries = CanaryCache()
        self.detection = Detection(config, self.canaries, counter)
        self.engine = Engine(self.defs, self.emit)
        self.changes = ChangeTracker(db)
        self.pending: set[str] = set()  # call ids that reports wait for
        # Policies, session limits and budgets fire straight from their findings (no window).
        self.rules = RuleAlerts(self.rule_meta, self.emit_alerts,
                                repeat_s=float((config.section("rule_alerts") or {}).get("repeat_s", 10)))
        self.tick_seconds = 1.0
        self._last_canary_refresh = 0.0
        self.rebuilt: dict[str, int] = {}
        self._alert_failure_logged = 0.0

    # ---- lifecycle ----
    def start(self) -> None:
        """Load canaries and history, then evaluate the batches no monitor saw before the last
        stop (their "calls.ingested" outbox entries): the rebuild counted them, so they are
        linked and evaluated, not counted twice."""
        self.canaries.refresh(self.db)
        self._last_canary_refresh = time.monotonic()
        t0 = time.perf_counter()
        self.rebuilt = rebuild.rebuild(self.db, self.engine)
        warm_tool_baseline(self.db, self.detection.baseline)
        self.changes.warm()
        with self.db.session() as session:
            self.pending = reports.pending_ids(session)
        pending = outbox.take(self.db, "calls.ingested")
        if pending:
            ids = [c for entry in pending for c in entry.payload.get("call_ids", [])]
            with self.db.session() as session:
                facts = facts_from_db(session, ids)
            self._observe(facts, count=False)
            self.rebuilt["replayed_calls"] = len(facts)
        log.info("monitors rebuilt from %s rows in %.2f s", self.rebuilt, time.perf_counter() - t0)
        if self.feed is not None:
            self.feed.start(self._observe)  # the other processes' facts, from now on

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()

    async def clock(self) -> None:
        await background.every("detect-monitors", background.in_thread(self.tick), self.tick_seconds, cap=30.0)

    def tick(self) -> None:
        self.engine.tick()
        self.rules.tick()
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

    def on_ingested(self, calls: list[PreparedCall] | None = None, call_ids: list[str] | None = None,
                    **_: Any) -> None:
        """The "calls.ingested" handler: in memory right after the commit, or read back by id when
        the outbox redelivers it. Each record is turned into a fact on its own, so one odd
        record (a call dated year 1) is skipped alone and never blinds its batch."""
        if calls is not None:
            # Eval and replay traffic is logged like any call but is not production: the monitors
            # and change markers leave it out (a lock run against a faulty candidate opens nothing).
            calls = [p for p in calls if p.row.get("environment") not in NOT_PRODUCTION]
            facts = []
            for p in calls:
                try:
                    facts.append(fact_of(p, self.cohorts))
                except Exception as exc:
                    RECORDS_SKIPPED.labels("monitors").inc()
                    log.error("monitors skip call %s: %s at %s", p.id, type(exc).__name__, where(exc))
            ruled: list[Any] = list(calls)
        else:
            with self.db.session() as session:
                facts = facts_from_db(session, list(call_ids or ()))
                ruled = rule_calls_from_db(session, list(call_ids or ()))
        self.rules.observe(ruled)
        self._observe(facts)
        if self.feed is not None:
            self.feed.publish(facts)
        if calls is not None:
            # After the monitors counted: a failure here must not make the outbox redeliver (and the
            # monitors count twice); it is logged and counted instead.
            try:
                if self.pending:
                    self.join({p.id: p.row for p in calls if p.id in self.pending})
                self.changes.observe(calls)
            except Exception as exc:
                RECORDS_SKIPPED.labels("change_markers").inc()
                log.error("pending reports / change markers failed: %s at %s", type(exc).__name__, where(exc))

    def _observe(self, facts: list[Fact], count: bool = True) -> None:
        try:
            self.engine.observe(facts, count=count)
        except Exception:
            if len(facts) <= 1:
                raise
            # Find the record the engine cannot take; the others still count.
            for fact in facts:
                try:
                    self.engine.observe([fact], count=count)
                except Exception as exc:
                    RECORDS_SKIPPED.labels("monitors").inc()
                    log.error("monitors skip call %s: %s at %s", fact.id, type(exc).__name__, where(exc))

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
            self._share([reports.fact_of(r) for r in joined])

    def on_report(self, report: Report) -> None:
        self._share([reports.fact_of(report)])

    def _share(self, facts: list[Fact]) -> None:
        self.engine.observe(facts)
        if self.feed is not None:
            self.feed.publish(facts)

    def rule_meta(self, detector: str, finding: dict[str, Any]) -> RuleMeta | None:
        if detector.startswith("policy:"):
            return policy_meta(self.detection.policies, detector)
        if detector == "session":
            return session_meta(self.detection.sessions)
        if detector == "budget":
            return budget_meta(finding)
        return None

    # ---- alerts out ----
    def emit_alerts(self, alerts: list[Alert]) -> None:
        """Rule alerts (policies, sessions, budgets): history rows and "alert.fired" outbox entries in one
        transaction, then delivery; a failed write is logged and counted (the next violation fires again)."""
        entries: list[int] = []
        try:
            with self.db.writing() as session:
                for a in alerts:
                    session.add(MonitorAlert(dedup_key=a.dedup_key, monitor=a.monitor or a.source,
                                             group=str(a.details.get("group", ""))[:500], fired_at=a.at, type=a.type,
                                             severity=a.severity, value=float(a.details.get("count") or 0),
                                             baseline=None, call_ids=list(a.call_ids[:100])))
                    entries.append(outbox.add(session, "alert.fired", {"alert": alert_to_json(a)}))
        except Exception as exc:
            ALERT_WRITE_FAILURES.inc()
            log.error("rule alerts %s not recorded (%s at %s)", ", ".join(a.dedup_key for a in alerts),
                      type(exc).__name__, where(exc))
            return
        for a, entry in zip(alerts, entries, strict=True):
            log.info("alert.fired %s", a.dedup_key)
            self.db.bus.publish_durable("alert.fired", entry, db=self.db, alert=a)

    def emit(self, fired: list[Fired]) -> None:
        """Record new firings and their "alert.fired" outbox entries in one transaction, then
        deliver. If that write fails the firings are undone (no false "firing" state) and the
        clock evaluates those groups again. New calls of a group that fires already (updates) go out
        the same durable way, without a history row (they are no new firing). The most severe
        first: the incident it opens is the one the batch's related alerts join."""
        if self.following():
            return  # the leader's engine counted the same facts and records this firing
        fired = sorted(fired, key=lambda f: (f.resolved, f.update, f.alert.severity))
        new = [f for f in fired if not f.resolved]
        entries: dict[int, int] = {}
        if new:
            try:
                with self.db.writing() as session:
                    for f in new:
                        a = f.alert
                        if not f.update:
                            session.add(MonitorAlert(dedup_key=a.dedup_key, monitor=f.monitor.name, group=f.group,
                                                     fired_at=a.at, type=a.type, severity=a.severity,
                                                     value=float(a.details.get("value") or 0.0),
                                                     baseline=a.details.get("baseline"), call_ids=list(a.call_ids)))
                    ids = outbox.add_many(session, "alert.fired", [{"alert": alert_to_json(f.alert)} for f in new])
                    entries = {id(f): entry for f, entry in zip(new, ids, strict=True)}
            except Exception as exc:
                self.engine.unfire([f for f in new if not f.update])
                ALERT_WRITE_FAILURES.inc()
                now = time.monotonic()
                if now - self._alert_failure_logged >= 60:  # the clock retries every second: log once a minute
                    self._alert_failure_logged = now
                    log.error("monitor alerts %s not recorded (%s at %s); retried on every tick",
                              ", ".join(f.alert.dedup_key for f in new), type(exc).__name__, where(exc))
                fired = [f for f in fired if f.resolved]
            else:
                self._alert_failure_logged = 0.0
        # The firings of one batch go out together (the incidents part handles them in one transaction),
        # then the resolutions, in this order.
        for f in fired:
            log.info("%s %s", "alert.resolved" if f.resolved else "alert.fired", f.alert.dedup_key)
        self.db.bus.publish_durable_many("alert.fired", [(entries.get(id(f)), {"db": self.db, "alert": f.alert})
                                                         for f in fired if not f.resolved])
        for f in fired:
            if f.resolved:
                self.db.bus.publish("alert.resolved", db=self.db, alert=f.alert)
