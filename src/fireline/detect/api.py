"""HTTP for detection: canaries, user reports, monitors; startup wires detectors into ingest."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.config import Config, ConfigError
from fireline.config_keys import check_keys, check_section
from fireline.detect import canaries, chart, reports
from fireline.detect.detectors import build_detectors
from fireline.detect.models import MonitorAlert, Report
from fireline.detect.monitor_defs import cohort_attributes, load_monitors
from fireline.detect.policies import load_policies
from fireline.detect.runtime import DetectRuntime
from fireline.detect.schemas import AlertOut, CanaryIn, CanaryOut, MonitorOut, ReportIn, ReportOut
from fireline.detect.sessions import load_sessions

router = APIRouter(prefix="/api/v1", tags=["detect"])


def runtime(request: Request) -> DetectRuntime:
    rt: DetectRuntime = request.app.state.detect
    return rt


# ---- canaries ----
def _canary_out(c: Any, full: bool) -> CanaryOut:
    return CanaryOut(id=c.id, tenant=c.tenant, token=c.token if full else canaries.mask(c.token), masked=not full,
                     created_at=c.created_at)


@router.post("/canaries", status_code=201, response_model=CanaryOut)
def add_canary(body: CanaryIn, request: Request, who: Principal = Depends(require("responder"))) -> CanaryOut:
    tenant, token = canaries.validate(body.tenant, body.token)
    with get_db(request).writing() as session:
        canary, _ = canaries.register(session, tenant, token, actor=who.key_id)
        out = _canary_out(canary, full=True)
    runtime(request).canaries.refresh(get_db(request))
    return out


@router.get("/canaries")
def list_canaries(request: Request, tenant: str | None = None,
                  who: Principal = Depends(require("viewer"))) -> dict[str, list[CanaryOut]]:
    full = who.can("responder")
    with get_db(request).session() as session:
        return {"canaries": [_canary_out(c, full) for c in canaries.listing(session, tenant)]}


@router.delete("/canaries/{canary_id}", status_code=204)
def delete_canary(request: Request, canary_id: int = Path(ge=1, le=2**31 - 1),
                  _: Principal = Depends(require("responder"))) -> None:
    with get_db(request).writing() as session:
        canaries.remove(session, canary_id)
    runtime(request).canaries.refresh(get_db(request))


# ---- reports ----
@router.post("/reports", status_code=201, response_model=ReportOut,
             responses={202: {"model": ReportOut, "description": "The call is not stored yet: the report is pending"}})
def add_report(body: ReportIn, request: Request, response: Response,
               who: Principal = Depends(require("ingest"))) -> ReportOut:
    """201 with the stored report; 202 (status "pending") for a call not written yet: joined when it lands."""
    with get_db(request).writing() as session:
        report = reports.create(session, body.call_id, body.kind, body.text, actor=who.key_id, at=body.at)
        out = ReportOut(**reports.to_out(report))
    if isinstance(report, Report):
        runtime(request).on_report(report)
    else:
        response.status_code = 202
        runtime(request).wait_for(body.call_id)
    return out


@router.get("/reports")
def list_reports(request: Request, call_id: str | None = None, kind: str | None = None,
                 limit: int = Query(100, ge=1, le=1000),
                 _: Principal = Depends(require("viewer"))) -> dict[str, list[ReportOut]]:
    with get_db(request).session() as session:
        rows = reports.listing(session, call_id=call_id, kind=kind, limit=limit)
        return {"reports": [ReportOut(**reports.to_out(r)) for r in rows]}


# ---- monitors ----
@router.get("/monitors")
async def list_monitors(request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, list[MonitorOut]]:
    snap = await run_in_threadpool(runtime(request).engine.snapshot)
    return {"monitors": [MonitorOut(**m) for m in snap]}


@router.get("/monitors/{name}/series")
def monitor_series(name: str, request: Request, group: str | None = Query(None, max_length=500),
                   hours: float = Query(24.0, gt=0, le=744), step: int | None = Query(None, ge=1, le=1440),
                   _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """One monitor's value, baseline, threshold band, where its condition held and where its alert fired
    over `hours` (the console's chart): `group` defaults to the firing one (else the first); `step` in
    minutes, else about 240 points."""
    with get_db(request).session() as session:
        return chart.series_with_alerts(runtime(request).engine, session, name, group, hours=hours, step=step)


@router.get("/monitors/alerts")
def monitor_alerts(request: Request, monitor: str | None = None, dedup_key: str | None = None,
                   limit: int = Query(100, ge=1, le=1000),
                   _: Principal = Depends(require("viewer"))) -> dict[str, list[AlertOut]]:
    stmt = select(MonitorAlert).order_by(MonitorAlert.id.desc()).limit(limit)
    if monitor:
        stmt = stmt.where(MonitorAlert.monitor == monitor)
    if dedup_key:
        stmt = stmt.where(MonitorAlert.dedup_key == dedup_key)
    with get_db(request).session() as session:
        return {"alerts": [AlertOut.model_validate(a, from_attributes=True) for a in session.scalars(stmt)]}


# ---- lifecycle and /metrics ----
class MonitorCollector(Collector):
    """Monitor values at scrape time (labels: monitor and group keys, never content)."""

    def __init__(self, rt: DetectRuntime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Any]:
        value = GaugeMetricFamily("fireline_monitor_value", "Current monitor value", labels=["monitor", "group"])
        base = GaugeMetricFamily("fireline_monitor_baseline", "Monitor baseline", labels=["monitor", "group"])
        firing = GaugeMetricFamily("fireline_monitor_firing", "1 while firing", labels=["monitor", "group"])
        fired = CounterMetricFamily("fireline_monitor_alerts", "Alerts fired since start", labels=["monitor"])
        for m in self.rt.engine.snapshot(limit_groups=50):
            fired.add_metric([m["name"]], m["alerts_fired"])
            for g in m["groups"]:
                labels = [m["name"], g["group"]]
                value.add_metric(labels, g["value"] or 0.0)
                base.add_metric(labels, g["baseline"] or 0.0)
                firing.add_metric(labels, 1.0 if g["state"] == "firing" else 0.0)
        yield from (value, base, firing, fired)


async def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    rt: DetectRuntime = app.state.detect  # made and subscribed by fireline.wiring
    await asyncio.to_thread(rt.start)
    spawn(app, rt.clock(), "detect-monitors")


def shutdown(app: FastAPI) -> None:
    app.state.detect.stop()


def check(config: Config) -> None:
    """Fail at start, with the field named, on a bad `monitors` or `detectors` section."""
    check_section(config.section("rule_alerts"), {"repeat_s": "positive"}, "rule_alerts")
    if isinstance(config.section("cohorts"), dict):  # or a bare list of attributes
        check_keys(config.section("cohorts"), ("attributes",), "cohorts")
    load_monitors(config.section("monitors"), cohorts=cohort_attributes(config.section("cohorts")))
    try:
        build_detectors(config.detectors)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    load_policies(config.section("policies"))
    load_sessions(config.section("sessions"))
