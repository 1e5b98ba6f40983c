"""Startup: rebuild the monitors' minute buckets from the database, so a restart keeps baselines.

One aggregate query per monitor family, grouped by minute and by the group keys in use:
calls (volume, errors, cost), latency (histogram bins), length histograms, the categorical
histograms (language, script, topic: columns written at ingest, detect.features), findings,
reports. Calls that containment answered are left out of the monitors that leave them out live
(MonitorDef.answers_only). Then the last firing of each monitor x group comes back from the alert
history, so a restart does not re-open what already fired.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement as CE

from fireline.calls.models import Call, CallFinding
from fireline.db import Database
from fireline.detect import features
from fireline.detect.distribution import LENGTH_BASE
from fireline.detect.facts import Fact
from fireline.detect.minutes import minute_of
from fireline.detect.models import MonitorAlert, Report
from fireline.detect.monitor import Monitor
from fireline.detect.monitor_defs import CONTAINED_STATUSES
from fireline.detect.monitors import Engine
from fireline.detect.series import LATENCY_BOUNDS
from fireline.detect.service import production

COLUMN_KEYS = frozenset({"app", "model", "alias", "prompt_version", "tool", "tenant"})
LENGTH_BOUNDS = tuple(LENGTH_BASE ** (k + 1) - 1 for k in range(64))


def rebuildable(mon: Monitor) -> bool:
    """Monitors whose history the prompt log's columns hold: not those grouped or filtered by
    metadata (route, cohorts); their windows refill."""
    d = mon.d
    return not d.where and set(d.group_by) <= COLUMN_KEYS


def _key_columns(model: Any, keys: list[str]) -> list[CE[Any]]:
    cols: list[CE[Any]] = []
    for k in keys:
        if k == "alias":
            col = model.model
        elif k == "model":
            col = func.coalesce(model.model_resolved, model.model) if model is Call else model.model
        elif k == "tool":
            col = model.tools
        else:
            col = getattr(model, k)
        cols.append(col.label(k))
    return cols


def _fact(row: Any, keys: list[str], minute: int) -> Fact:
    values = row._mapping
    tools = tuple(dict.fromkeys((values["tool"] or "").split())) if "tool" in keys and values["tool"] else ()
    return Fact(id="", minute=minute, app=values["app"] if "app" in keys else "-",
                tenant=values["tenant"] if "tenant" in keys else None,
                model=values["model"] if "model" in keys else None,
                prompt_version=values["prompt_version"] if "prompt_version" in keys else None, tools=tools,
                alias=values["alias"] if "alias" in keys else None)


def rebuild(db: Database, engine: Engine) -> dict[str, int]:
    """Seed the engine from the trailing horizon; returns rows read per family."""
    now = datetime.fromtimestamp(engine.clock(), UTC)
    longest = max((m.d.window for m in engine.monitors), default=0)
    since = now - timedelta(minutes=engine.horizon + longest + 1)
    mons = [m for m in engine.monitors if rebuildable(m)]
    keys = sorted({k for m in mons for k in m.d.group_by} | {"app"})
    counts: dict[str, int] = defaultdict(int)
    with db.session() as session:
        # calls: every monitor's denominator, plus errors / volume / cost numerators
        minute = minute_of(db.dialect, Call.started_at)
        stmt = (select(minute.label("minute"), *_key_columns(Call, keys), Call.status, func.count().label("n"),
                       func.coalesce(func.sum(Call.cost_usd), 0.0).label("cost"))
                .where(production(Call.environment), Call.started_at >= since)
                .group_by(minute, *_key_columns(Call, keys), Call.status))
        for row in session.execute(stmt):
            counts["calls"] += 1
            fact = _fact(row, keys, int(row.minute))
            for mon in mons:
                sig = mon.d.signal
                if sig in ("latency", "distribution"):
                    continue  # their samples come from their own families
                if mon.answers_only and row.status in CONTAINED_STATUSES:
                    continue
                num = 0.0
                if (sig == "errors" and row.status in mon.d.match.status) or sig == "calls":
                    num = float(row.n)
                elif sig == "cost":
                    num = float(row.cost)
                _seed(engine, mon, fact, num, int(row.n))
        lat = [m for m in mons if m.d.signal == "latency"]
        if lat:
            bin_ = case(*[(Call.latency_ms <= b, literal(i)) for i, b in enumerate(LATENCY_BOUNDS)],
                        else_=literal(len(LATENCY_BOUNDS)))
            stmt = (select(minute.label("minute"), *_key_columns(Call, keys), bin_.label("bin"),
                           func.count().label("n"))
                    .where(production(Call.environment), Call.started_at >= since, Call.latency_ms.is_not(None),
                           Call.status.not_in(CONTAINED_STATUSES))
                    .group_by(minute, *_key_columns(Call, keys), bin_))
            for row in session.execute(stmt):
                counts["latency"] += 1
                fact = _fact(row, keys, int(row.minute))
                for mon in lat:
                    _seed(engine, mon, fact, 0.0, int(row.n), {int(row.bin): int(row.n)})
        for feature, column in (("output_tokens", Call.output_tokens), ("input_tokens", Call.input_tokens)):
            dmons = [m for m in mons if m.d.signal == "distribution" and m.d.feature == feature]
            if not dmons:
                continue
            lbin = case(*[(column <= b, literal(i)) for i, b in enumerate(LENGTH_BOUNDS)],
                        else_=literal(len(LENGTH_BOUNDS)))
            stmt = (select(minute.label("minute"), *_key_columns(Call, keys), lbin.label("bin"),
                           func.count().label("n"), func.sum(column).label("total"))
                    .where(production(Call.environment), Call.started_at >= since, column.is_not(None),
                           Call.status.not_in(CONTAINED_STATUSES))
                    .group_by(minute, *_key_columns(Call, keys), lbin))
            for row in session.execute(stmt):
                counts[feature] += 1
                fact = _fact(row, keys, int(row.minute))
                for mon in dmons:
                    _seed(engine, mon, fact, float(row.total or 0), int(row.n), {int(row.bin): int(row.n)})
        for feature, name in features.COLUMNS.items():
            dmons = [m for m in mons if m.d.signal == "distribution" and m.d.feature == feature]
            if not dmons:
                continue
            label = getattr(Call, name)
            stmt = (select(minute.label("minute"), *_key_columns(Call, keys), label.label("label"),
                           func.count().label("n"))
                    .where(production(Call.environment), Call.started_at >= since, label.is_not(None),
                           Call.status.not_in(CONTAINED_STATUSES))
                    .group_by(minute, *_key_columns(Call, keys), label))
            for row in session.execute(stmt):
                counts[feature] += 1
                fact = _fact(row, keys, int(row.minute))
                for mon in dmons:
                    _seed(engine, mon, fact, 0.0, int(row.n), {features.bin_of(feature, row.label): int(row.n)})
        fmons = [m for m in mons if m.d.signal == "findings"]
        if fmons:
            fminute = minute_of(db.dialect, CallFinding.started_at)
            fkeys = _key_columns(Call, keys)
            stmt = (select(fminute.label("minute"), *fkeys, CallFinding.detector, CallFinding.kind,
                           CallFinding.location, CallFinding.severity, Call.status,
                           func.count(func.distinct(CallFinding.call_id)).label("n"))
                    .join(Call, Call.id == CallFinding.call_id)
                    .where(CallFinding.started_at >= since, production(Call.environment))
                    .group_by(fminute, *fkeys, CallFinding.detector, CallFinding.kind, CallFinding.location,
                              CallFinding.severity, Call.status))
            for row in session.execute(stmt):
                counts["findings"] += 1
                fact = _fact(row, keys, int(row.minute))
                fact.findings = ({"detector": row.detector, "kind": row.kind, "location": row.location,
                                  "severity": row.severity, "tool": None},)
                for mon in fmons:
                    if mon.answers_only and row.status in CONTAINED_STATUSES:
                        continue
                    num, _, _ = mon.measure(fact)
                    if num:
                        _seed(engine, mon, fact, float(row.n), 0)
        rmons = [m for m in mons if m.d.signal == "reports"]
        if rmons:
            rminute = minute_of(db.dialect, Report.at)
            rkeys = _key_columns(Report, keys)
            stmt = (select(rminute.label("minute"), *rkeys, Report.kind, func.count().label("n"))
                    .where(Report.at >= since).group_by(rminute, *rkeys, Report.kind))
            for row in session.execute(stmt):
                counts["reports"] += 1
                fact = _fact(row, keys, int(row.minute))
                fact.report_kind = row.kind
                for mon in rmons:
                    num, _, _ = mon.measure(fact)
                    if num:
                        _seed(engine, mon, fact, float(row.n), 0)
        stmt2 = (select(MonitorAlert.monitor, MonitorAlert.group, func.max(MonitorAlert.fired_at))
                 .where(MonitorAlert.fired_at >= now - timedelta(minutes=longest))
                 .group_by(MonitorAlert.monitor, MonitorAlert.group))
        for name, group, at in session.execute(stmt2):
            counts["alerts"] += 1
            engine.mark_fired(name, group, at)
    return dict(counts)


def _seed(engine: Engine, mon: Monitor, fact: Fact, num: float, den: int,
          bins: dict[int, int] | None = None) -> None:
    for group in mon.groups(fact):
        engine.seed(mon.d.name, group, fact.minute, num, den, bins)
