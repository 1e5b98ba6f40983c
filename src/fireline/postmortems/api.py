"""HTTP for post-mortems: the generated document (JSON, Markdown or HTML), the root-cause
record, action items, completion, and the list of due and overdue post-mortems."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.comms.delivery import Runtime
from fireline.errors import Invalid
from fireline.evals.models import EvalSuite
from fireline.postmortems import generator, service
from fireline.postmortems.models import RootCause
from fireline.validation import NonBlank

router = APIRouter(prefix="/api/v1", tags=["postmortems"])


class RootCauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Literal["model", "prompt", "data", "configuration", "infrastructure", "config", "infra"] | None = None
    whys: list[str] = Field(default_factory=list, max_length=10, description="the 5 whys, why 1 first")
    factors: list[str] = Field(default_factory=list, max_length=100)
    remediation: list[str] = Field(default_factory=list, max_length=100)
    regression_test: str | None = Field(None, max_length=200, description="the eval suite id of the lock")
    prevention: str | None = Field(None, max_length=20000)
    summary: str | None = Field(None, max_length=20000)
    finding: str | None = Field(None, max_length=20000)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: NonBlank = Field(min_length=1, max_length=2000)
    owner: NonBlank = Field(min_length=1, max_length=200)
    due: date


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.comms
    return rt


@router.get("/incidents/{incident_id}/postmortem", response_model=None)
def postmortem(incident_id: str, request: Request, format: Literal["json", "md", "html"] = "json",
               _: Principal = Depends(require("viewer"))) -> dict[str, Any] | Response:
    rt = _rt(request)
    with rt.db.session() as session:
        pm = generator.generate(session, incident_id, request.app.state.config, rt.cfg, rt.clock())
    tdir = rt.cfg.comms.templates_dir
    if format == "md":
        return PlainTextResponse(generator.render(pm, "md", tdir), media_type="text/markdown; charset=utf-8")
    if format == "html":
        return HTMLResponse(generator.render(pm, "html", tdir))
    return {**pm, "markdown": generator.render(pm, "md", tdir)}


@router.post("/incidents/{incident_id}/postmortem/complete")
def complete(incident_id: str, request: Request, who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = _rt(request)
    with rt.db.writing() as session:
        service.complete(session, incident_id, who.key_id, rt.clock())
    with rt.db.session() as session:
        inc = service.exists(session, incident_id)
        return {"incident_id": incident_id,
                **service.status(session, inc, rt.cfg.comms.postmortem_due_business_days, rt.clock().date())}


@router.get("/incidents/{incident_id}/root-cause")
def get_root_cause(incident_id: str, request: Request,
                   _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with _rt(request).db.session() as session:
        service.exists(session, incident_id)
        return {"incident_id": incident_id, **service.root_cause_json(session.get(RootCause, incident_id))}


@router.put("/incidents/{incident_id}/root-cause")
def put_root_cause(incident_id: str, body: RootCauseIn, request: Request,
                   who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = _rt(request)
    with rt.db.writing() as session:
        if body.regression_test and session.get(EvalSuite, body.regression_test) is None:
            raise Invalid(f"regression_test: no eval suite {body.regression_test!r} (GET /api/v1/evals)",
                          field="regression_test")
        rc = service.set_root_cause(session, incident_id, who.key_id, rt.clock(), category=body.category,
                                    factors=body.factors, summary=body.summary, finding=body.finding,
                                    whys=body.whys, remediation=body.remediation,
                                    regression_test=body.regression_test, prevention=body.prevention)
        return {"incident_id": incident_id, **service.root_cause_json(rc)}


@router.get("/incidents/{incident_id}/actions")
def list_actions(incident_id: str, request: Request,
                 _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    rt = _rt(request)
    with rt.db.session() as session:
        service.exists(session, incident_id)
        today = rt.clock().date()
        return {"actions": [service.action_json(a, today) for a in service.actions(session, incident_id)]}


@router.post("/incidents/{incident_id}/actions", status_code=201)
def add_action(incident_id: str, body: ActionIn, request: Request,
               who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = _rt(request)
    now = rt.clock()
    with rt.db.writing() as session:
        item = service.add_action(session, incident_id, body.title.strip(), body.owner.strip(), body.due,
                                  who.key_id, now)
        return service.action_json(item, now.date())


@router.post("/incidents/{incident_id}/actions/{action_id}/done")
def action_done(incident_id: str, action_id: int, request: Request,
                who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    rt = _rt(request)
    now = rt.clock()
    with rt.db.writing() as session:
        return service.action_json(service.complete_action(session, incident_id, action_id, who.key_id, now),
                                   now.date())


@router.get("/postmortems")
def postmortems(request: Request, overdue: bool = Query(False),
                _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    rt = _rt(request)
    with rt.db.session() as session:
        return {"postmortems": service.due_list(session, rt.cfg.comms.postmortem_due_business_days,
                                                rt.clock().date(), overdue_only=overdue)}
