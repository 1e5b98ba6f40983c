"""The public status page: GET /status (HTML) and GET /status.json, no key needed.

Components are the apps of the config plus the apps seen on incidents. A component's state
comes from the active incidents touching it: an uncontained P0 is a major outage, any other
active P0-P2 is degraded, P3 leaves it operational. Incidents appear only through the
updates a responder marked public, under a neutral title; nothing else of the record
(titles, notes, calls, users, tenants, evidence) is read into the page.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fireline.comms.cadence import PHASES
from fireline.comms.config import CommsConfig
from fireline.comms.models import Update
from fireline.comms.templates import env_for
from fireline.db import utcnow
from fireline.incidents.lifecycle import ACTIVE
from fireline.incidents.models import Incident
from fireline.incidents.timeline import stamp

router = APIRouter(tags=["status"])
RANK = {"operational": 0, "degraded": 1, "major_outage": 2}
LABELS = {"operational": "Operational", "degraded": "Degraded performance", "major_outage": "Major outage"}
OVERALL = {"operational": "All systems operational", "degraded": "Some systems are degraded",
           "major_outage": "Major outage"}
CACHE = {"Cache-Control": "public, max-age=15"}


def public_ref(incident_id: str) -> str:
    """A stable public reference that does not expose the internal incident id."""
    return "ST-" + hashlib.sha256(incident_id.encode()).hexdigest()[:10]


def impact(inc: Incident) -> str:
    if inc.severity == "P0" and inc.state != "contained":
        return "major_outage"
    return "degraded" if inc.severity in ("P0", "P1", "P2") else "operational"


def _apps(inc: Incident) -> list[str]:
    return [a for a in (inc.apps or "").split() if a]


def snapshot(session: Session, configured_apps: list[str], cfg: CommsConfig, now: datetime) -> dict[str, Any]:
    states = dict.fromkeys(configured_apps, "operational")
    for apps in session.scalars(select(Incident.apps).distinct()):
        for app in (apps or "").split():
            states.setdefault(app, "operational")
    for inc in session.scalars(select(Incident).where(Incident.state.in_(ACTIVE))):
        level = impact(inc)
        for app in _apps(inc):
            if RANK[level] > RANK[states.get(app, "operational")]:
                states[app] = level
    since = now - timedelta(days=cfg.comms.status_page.history_days)
    shown = session.scalars(select(Incident).where(
        Incident.id.in_(select(Update.incident_id).where(Update.public.is_(True))),
        or_(Incident.state.in_(ACTIVE), Incident.resolved_at >= since, Incident.closed_at >= since))
        .order_by(Incident.detected_at.desc()))
    incidents = []
    for inc in shown:
        ups = list(session.scalars(select(Update).where(Update.incident_id == inc.id, Update.public.is_(True))
                                   .order_by(Update.at.desc(), Update.id.desc())))
        phase = PHASES.get(inc.state, "investigating")
        ended = inc.resolved_at or inc.closed_at
        incidents.append({
            "id": public_ref(inc.id), "name": f"Incident affecting {', '.join(_apps(inc)) or 'our service'}",
            "status": phase, "impact": impact(inc) if inc.state in ACTIVE else "none",
            "components": _apps(inc), "started_at": stamp(ups[-1].at),
            "resolved_at": stamp(ended) if phase == "resolved" and ended else None,
            "updates": [{"at": stamp(u.at), "status": u.status, "message": u.message} for u in ups]})
    overall = max(states.values(), key=lambda s: RANK[s], default="operational")
    return {"page": {"title": cfg.comms.status_page.title, "updated_at": stamp(now)},
            "status": {"indicator": overall, "description": OVERALL[overall]},
            "components": [{"name": name, "status": state} for name, state in sorted(states.items())],
            "incidents": incidents}


def _page(request: Request) -> dict[str, Any]:
    cfg: CommsConfig = request.app.state.comms.cfg
    with request.app.state.db.session() as session:
        return snapshot(session, list(request.app.state.config.apps), cfg, utcnow())


@router.get("/status.json", include_in_schema=True)
def status_json(request: Request) -> JSONResponse:
    return JSONResponse(_page(request), headers=CACHE)


@router.get("/status", response_class=HTMLResponse)
def status_html(request: Request) -> HTMLResponse:
    cfg: CommsConfig = request.app.state.comms.cfg
    page = _page(request)
    html = env_for(cfg.comms.templates_dir).get_template("status.html.j2").render(labels=LABELS, **page)
    return HTMLResponse(html, headers=CACHE)
