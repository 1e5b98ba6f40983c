"""HTTP for comms: updates, message templates, disclosure obligations, high risk, deliveries.
The public status page lives in comms/status.py. Startup validates the config sections,
subscribes to the incident events and starts the delivery worker."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.comms import cadence, context, delivery, obligations, templates
from fireline.comms.config import load
from fireline.comms.delivery import Event, Runtime
from fireline.comms.models import Delivery
from fireline.config import Config
from fireline.errors import Invalid
from fireline.incidents.service import get_incident
from fireline.incidents.timeline import stamp
from fireline.validation import NonBlank

router = APIRouter(prefix="/api/v1/incidents", tags=["comms"])


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: NonBlank = Field(min_length=1, max_length=5000)
    public: bool = False
    # What the status page shows for the incident's public apps (public updates only; default: the
    # incident's impact when posted).
    impact: Literal["operational", "degraded", "partial_outage", "major_outage"] | None = None


class MetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=5000)


class HighRiskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    high_risk: bool = True
    reason: str | None = Field(None, max_length=5000)
    likely_consequences: str | None = Field(None, max_length=5000)


def rt_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.comms
    return rt


def _evaluate(rt: Runtime, incident_id: str) -> None:
    with rt.db.session() as session:
        get_incident(session, incident_id)
    for ev in obligations.evaluate_in(rt, incident_id, rt.clock()):
        rt.submit(ev)


@router.post("/{incident_id}/updates", status_code=201)
def post_update(incident_id: str, body: UpdateIn, request: Request,
                who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = rt_of(request)
    with rt.db.writing() as session:
        if body.impact is not None and not body.public:
            raise Invalid("impact: only a public update sets what the status page shows", field="impact")
        row = cadence.post_update(session, incident_id, body.message.strip(), body.public, who.key_id, rt.clock(),
                                  body.impact)
        out = cadence.update_json(row)
    rt.submit(Event("update", incident_id, {"message": out["message"], "public": body.public,
                                            "actor": who.key_id}))
    return out


@router.get("/{incident_id}/updates")
def list_updates(incident_id: str, request: Request, public: bool | None = None,
                 _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with rt_of(request).db.session() as session:
        get_incident(session, incident_id)
        rows = cadence.updates(session, incident_id, public_only=bool(public))
        return {"updates": [cadence.update_json(u) for u in rows]}


@router.get("/{incident_id}/messages/{template}")
def render_message(incident_id: str, template: str, request: Request,
                   _: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = rt_of(request)
    with rt.db.session() as session:
        ctx = context.build(session, rt.cfg, incident_id, rt.clock())
    return {"incident_id": incident_id, **templates.render_message(rt.cfg.comms.templates_dir, template, ctx)}


@router.get("/{incident_id}/obligations")
def list_obligations(incident_id: str, request: Request,
                     _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    """The open and met obligations; for a drill what `would_open`; `questions` a responder must
    answer before any clock can open (personal data in a leak without calls)."""
    rt = rt_of(request)
    _evaluate(rt, incident_id)  # calls linked since the last check may have opened one
    with rt.db.session() as session:
        return {"obligations": obligations.list_for(session, rt.cfg, incident_id, rt.clock()),
                "would_open": obligations.would_open(session, rt.cfg, incident_id, rt.clock()),
                "questions": obligations.questions(session, incident_id)}


class PersonalDataIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    involved: bool
    reason: NonBlank = Field(min_length=1, max_length=5000)


@router.post("/{incident_id}/personal-data")
def personal_data(incident_id: str, body: PersonalDataIn, request: Request,
                  who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """A responder's answer on personal data for a leak whose calls are unknown (opens the Art. 33
    clock from detection when involved)."""
    rt = rt_of(request)
    with rt.db.writing() as session:
        get_incident(session, incident_id)
        obligations.mark_personal_data(session, incident_id, who.key_id, body.involved, body.reason.strip(),
                                       rt.clock())
    _evaluate(rt, incident_id)
    return list_obligations(incident_id, request, who)


@router.post("/{incident_id}/obligations/{obligation_id}/met")
def obligation_met(incident_id: str, obligation_id: str, request: Request, body: MetIn | None = None,
                   who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = rt_of(request)
    with rt.db.writing() as session:
        obligations.mark_met(session, incident_id, obligation_id, who.key_id, body.note if body else None,
                             rt.clock())
    with rt.db.session() as session:
        found = [o for o in obligations.list_for(session, rt.cfg, incident_id, rt.clock()) if o["id"] == obligation_id]
    return found[0]


@router.post("/{incident_id}/high-risk")
def high_risk(incident_id: str, request: Request, body: HighRiskIn | None = None,
              who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = rt_of(request)
    body = body or HighRiskIn()
    with rt.db.writing() as session:
        row = obligations.mark_high_risk(session, incident_id, who.key_id, body.high_risk, body.reason,
                                         body.likely_consequences, rt.clock())
        out = {"incident_id": incident_id, "high_risk": row.high_risk,
               "marked_at": stamp(row.high_risk_at) if row.high_risk_at else None, "marked_by": row.high_risk_by,
               "likely_consequences": row.likely_consequences}
    _evaluate(rt, incident_id)
    with rt.db.session() as session:
        out["obligations"] = obligations.list_for(session, rt.cfg, incident_id, rt.clock())
    return out


@router.get("/{incident_id}/deliveries")
def deliveries(incident_id: str, request: Request, limit: int = Query(200, ge=1, le=2000),
               _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with rt_of(request).db.session() as session:
        get_incident(session, incident_id)
        rows = session.scalars(select(Delivery).where(Delivery.incident_id == incident_id)
                               .order_by(Delivery.created_at, Delivery.id).limit(limit))
        return {"deliveries": [{"id": d.id, "event": d.event, "channel": d.channel, "channel_type": d.channel_type,
                                "status": d.status, "attempts": d.attempts, "subject": d.message.get("subject"),
                                "created_at": stamp(d.created_at),
                                "sent_at": stamp(d.sent_at) if d.sent_at else None,
                                "next_attempt_at": stamp(d.next_attempt_at) if d.next_attempt_at else None,
                                "last_error": d.last_error} for d in rows]}


def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    rt: Runtime = app.state.comms  # made and subscribed by fireline.wiring
    clock = getattr(app.state, "comms_clock", None)
    if clock is not None:  # tests and drills run the clocks on their own time
        rt.clock = clock
    # Deliveries are claimed row by row (any process sends); the reminders and clocks run on the leader.
    spawn(app, delivery.worker(rt, [leader_only(app, cadence.check), leader_only(app, obligations.check)]),
          "comms-delivery")


def leader_only(app: FastAPI, check: delivery.Periodic) -> delivery.Periodic:
    def run(rt: Runtime, now: Any) -> None:
        if app.state.leader.is_leader():
            check(rt, now)

    run.__name__ = getattr(check, "__name__", "check")
    return run


def obligations_view(request: Request, session: Any, incident: Any, **_: Any) -> list[dict[str, Any]]:
    """The incident view "obligations": disclosure deadlines on GET /api/v1/incidents/{id}."""
    rt = request.app.state.comms
    return obligations.list_for(session, rt.cfg, incident.id, rt.clock())


def check(config: Config) -> None:
    """Fail at start, with the field named, on a bad `notifications` or `comms` section."""
    load(config)
