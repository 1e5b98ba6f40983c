"""The periodic retention run inside the server."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from fireline import background
from fireline.calls.retention import run_retention
from fireline.metrics import RETENTION_PURGED

log = logging.getLogger("fireline.retention")
router = None


def retention_once(app: FastAPI) -> None:
    privacy = app.state.config.privacy
    with app.state.db.writing() as session:
        report = run_retention(session, raw_days=privacy.raw_retention_days,
                               record_days=privacy.retention_days)
    RETENTION_PURGED.labels("raw").inc(report.raw_purged)
    RETENTION_PURGED.labels("calls").inc(report.calls_purged)
    if report.raw_purged or report.calls_purged:
        log.info("retention: %d raw purged, %d calls purged, %d held", report.raw_purged,
                 report.calls_purged, report.held_skipped)


async def _loop(app: FastAPI) -> None:
    interval = app.state.config.privacy.retention_interval_s
    # A failed run (the database away) is retried with backoff, up to every 10 minutes.
    await background.every("retention", background.in_thread(retention_once, app), interval,
                           cap=min(interval, 600.0), first_delay=0, only_if=app.state.leader.is_leader)


def startup(app: FastAPI) -> None:
    background.spawn(app, _loop(app), "retention")
