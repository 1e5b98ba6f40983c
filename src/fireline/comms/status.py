"""The public status page: GET /status (HTML) and GET /status.json, no key needed.

Only apps declared public (`apps.<name>.public: true`) are listed. Their state changes by
decision, never by itself: a public update on an incident (its `impact`, frozen when it was
posted, and held after the incident is resolved until a later public update says otherwise),
`fireline status set` (a state set by hand holds until set again or overtaken by a later public
update), or, for an app whose `public_status` is `automatic`, an incident a person has confirmed
(acknowledged or declared by hand), shown while it is active. An incident no one confirmed, a
drill, resolving without a public update, or an internal update changes nothing. Incidents
appear only through the updates a responder marked public, under a neutral title; nothing else
of the record (titles, notes, calls, users, tenants, evidence) is read into the page.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.comms.cadence import impact
from fireline.comms.config import CommsConfig
from fireline.comms.models import StatusComponent, Update
from fireline.comms.templates import env_for
from fireline.config import Config
from fireline.db import utcnow
from fireline.errors import Invalid
from fireline.incidents.lifecycle import ACTIVE
from fireline.incidents.models import Incident
from fireline.incidents.timeline import stamp

router = APIRouter(tags=["status"])
RANK = {"operational": 0, "degraded": 1, "partial_outage": 2, "major_outage": 3}
STATES = tuple(RANK)
LABELS = {"operational": "Operational", "degraded": "Degraded performance", "partial_outage": "Partial outage",
          "major_outage": "Major outage"}
OVERALL = {"operational": "All systems operational", "degraded": "Some systems are degraded",
           "partial_outage": "Partial outage", "major_outage": "Major outage"}
CACHE = {"Cache-Control": "public, max-age=15"}


def public_ref(incident_id: str) -> str:
    """A stable public reference that does not expose the internal incident id."""
    return "ST-" + hashlib.sha256(incident_id.encode()).hexdigest()[:10]


def confirmed(inc: Incident) -> bool:
    """A person stands behind it: acknowledged (or declared) with a commander."""
    return inc.acknowledged_at is not None and inc.commander is not None


def _apps(inc: Incident) -> list[str]:
    return [a for a in (inc.apps or "").split() if a]


def public_apps(config: Config) -> list[str]:
    return sorted(name for name, app in config.apps.items() if app.public)


def _latest_public(session: Session) -> tuple[dict[str, Incident], dict[str, Update]]:
    """Real incidents that are active or ever spoke in public (and those they were merged into),
    and the latest public update of each."""
    spoke = select(Update.incident_id).where(Update.public.is_(True))
    incs = {i.id: i for i in session.scalars(select(Incident).where(
        Incident.drill.is_(False), or_(Incident.state.in_(ACTIVE), Incident.id.in_(spoke))))}
    missing = {i.merged_into for i in incs.values() if i.merged_into and i.merged_into not in incs}
    if missing:
        incs.update({i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(missing)))})
    latest: dict[str, Update] = {}
    for u in session.scalars(select(Update).where(Update.public.is_(True), Update.incident_id.in_(list(incs)))
                             .order_by(Update.at.desc(), Update.id.desc())):
        latest.setdefault(u.incident_id, u)
    return incs, latest


def _root(incs: dict[str, Incident], inc: Incident) -> Incident:
    """The incident that carries on for `inc` (follows merges)."""
    for _ in range(10):
        nxt = incs.get(inc.merged_into) if inc.merged_into else None
        if nxt is None:
            return inc
        inc = nxt
    return inc


def components(session: Session, config: Config) -> list[dict[str, Any]]:
    """Each public app's state, with what decided it (`manual`, `public_update`, `automatic`).

    A public update's impact holds, also after the incident is resolved, until a later public update
    or `fireline status set` says otherwise: resolving changes nothing in public by itself. Only for
    an app whose `public_status` is `automatic` does the incident's own state decide: a confirmed
    active incident shows, and it stops showing when it is over. A merged incident's updates count
    for the incident it was merged into."""
    names = public_apps(config)
    manual = {r.component: r for r in session.scalars(select(StatusComponent).where(
        StatusComponent.component.in_(names)))} if names else {}
    decided: dict[str, list[tuple[str, datetime, str]]] = {n: [] for n in names}  # (state, at, source)
    incs, latest = _latest_public(session) if names else ({}, {})
    said: dict[str, Update] = {}  # root incident id -> its latest public update (its own or a merged one's)
    for inc_id, u in latest.items():
        root = _root(incs, incs[inc_id])
        if root.id not in said or (u.at, u.id) > (said[root.id].at, said[root.id].id):
            said[root.id] = u
    for inc in incs.values():
        if inc.merged_into:
            continue
        touched = [a for a in _apps(inc) if a in decided]
        last = said.get(inc.id)
        for app in touched:
            if config.app(app).public_status == "automatic":
                if inc.state not in ACTIVE:
                    continue  # over: the app's policy takes it off the page
                if last is not None:
                    decided[app].append((last.impact or impact(inc), last.at, "public_update"))
                elif confirmed(inc):
                    assert inc.acknowledged_at is not None
                    decided[app].append((impact(inc), inc.acknowledged_at, "automatic"))
            elif last is not None:
                decided[app].append((last.impact or "operational", last.at, "public_update"))
    out = []
    for name in names:
        row = manual.get(name)
        state, source, since = "operational", "default", None
        if row is not None:
            state, source, since = row.status, "manual", row.at
        if decided[name]:
            worst = max(decided[name], key=lambda d: RANK.get(d[0], 0))
            latest_at = max(d[1] for d in decided[name])
            if row is None or latest_at > row.at:  # the latest decision wins
                state, source, since = worst[0], worst[2], latest_at
        out.append({"name": name, "status": state, "source": source, "since": stamp(since) if since else None,
                    "message": row.message if row is not None and source == "manual" else None})
    return out


def snapshot(session: Session, config: Config, cfg: CommsConfig, now: datetime) -> dict[str, Any]:
    shown_apps = set(public_apps(config))
    comps = components(session, config)
    since = now - timedelta(days=cfg.comms.status_page.history_days)
    shown = session.scalars(select(Incident).where(
        Incident.id.in_(select(Update.incident_id).where(Update.public.is_(True))), Incident.drill.is_(False),
        Incident.merged_into.is_(None)).order_by(Incident.detected_at.desc()))
    incidents = []
    for inc in shown:
        apps = [a for a in _apps(inc) if a in shown_apps]
        if not apps:  # about internal apps only: not for the public page
            continue
        ups = list(session.scalars(select(Update).where(Update.incident_id == inc.id, Update.public.is_(True))
                                   .order_by(Update.at.desc(), Update.id.desc())))
        # What the public was told last: an incident resolved internally stays as it was announced
        # until a public update says it is resolved.
        phase = ups[0].status
        ended = inc.resolved_at or inc.closed_at
        if phase == "resolved" and ups[0].at < since and (ended is None or ended < since):
            continue
        incidents.append({
            "id": public_ref(inc.id), "name": f"Incident affecting {', '.join(apps)}",
            "status": phase, "impact": (ups[0].impact or impact(inc)) if phase != "resolved" else "none",
            "components": apps, "started_at": stamp(ups[-1].at),
            "resolved_at": stamp(ended or ups[0].at) if phase == "resolved" else None,
            "updates": [{"at": stamp(u.at), "status": u.status, "message": u.message} for u in ups]})
    overall = max((c["status"] for c in comps), key=lambda s: RANK.get(s, 0), default="operational")
    return {"page": {"title": cfg.comms.status_page.title, "updated_at": stamp(now)},
            "status": {"indicator": overall, "description": OVERALL[overall]},
            "components": [{"name": c["name"], "status": c["status"]} for c in comps],
            "incidents": incidents}


class ComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(pattern="^(operational|degraded|partial_outage|major_outage)$")
    message: str | None = Field(None, max_length=2000)


def set_component(session: Session, config: Config, name: str, status: str, message: str | None, actor: str,
                  now: datetime) -> StatusComponent:
    if name not in public_apps(config):
        raise Invalid(f"component: {name!r} is not a public app (public apps: "
                      f"{', '.join(public_apps(config)) or 'none; declare one with apps.<name>.public: true'})",
                      field="component")
    row = session.get(StatusComponent, name, with_for_update=True)
    if row is None:
        row = StatusComponent(component=name, status=status, message=message, actor=actor, at=now)
        session.add(row)
    else:
        row.status, row.message, row.actor, row.at = status, message, actor, now
    session.flush()
    return row


@router.get("/api/v1/status/components")
def list_components(request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with request.app.state.db.session() as session:
        return {"components": components(session, request.app.state.config)}


@router.post("/api/v1/status/components/{component}")
def post_component(component: str, body: ComponentIn, request: Request,
                   who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Set a public component's state by hand (`fireline status set`); it holds until set again or a
    later public update decides otherwise."""
    with request.app.state.db.writing() as session:
        set_component(session, request.app.state.config, component, body.status, body.message, who.key_id,
                      utcnow())
    with request.app.state.db.session() as session:
        return next(c for c in components(session, request.app.state.config) if c["name"] == component)


def _page(request: Request) -> dict[str, Any]:
    cfg: CommsConfig = request.app.state.comms.cfg
    with request.app.state.db.session() as session:
        return snapshot(session, request.app.state.config, cfg, utcnow())


@router.get("/status.json", include_in_schema=True)
def status_json(request: Request) -> JSONResponse:
    return JSONResponse(_page(request), headers=CACHE)


@router.get("/status", response_class=HTMLResponse)
def status_html(request: Request) -> HTMLResponse:
    cfg: CommsConfig = request.app.state.comms.cfg
    page = _page(request)
    html = env_for(cfg.comms.templates_dir).get_template("status.html.j2").render(labels=LABELS, **page)
    return HTMLResponse(html, headers=CACHE)
