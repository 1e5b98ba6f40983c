"""GET /api/v1/incidents/{id}/changes (what changed before onset) and the labelling queue."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.incidents.service import get_incident
from fireline.investigate import labels
from fireline.investigate.service import changes_before_onset

router = APIRouter(prefix="/api/v1", tags=["investigate"])


@router.get("/incidents/{incident_id}/changes")
def what_changed(incident_id: str, request: Request, hours: float = Query(24.0, gt=0, le=24 * 31),
                 _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).writing() as session:  # the onset is stored on the incident the first time
        return changes_before_onset(session, get_incident(session, incident_id), hours=hours)


# ---- the labelling queue ----
class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(min_length=1, max_length=128)
    label: Literal["factual_error", "invented_citation", "confabulation", "other", "correct"]
    note: str | None = Field(None, max_length=5000)


@router.get("/incidents/{incident_id}/labels/queue")
def label_queue(incident_id: str, request: Request, n: int = Query(50, ge=1, le=labels.MAX_SAMPLE),
                _: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """The next `n` affected calls nobody labelled (a stable random sample), with redacted answers."""
    with get_db(request).session() as session:
        return labels.queue(session, incident_id, n)


@router.post("/incidents/{incident_id}/labels", status_code=201)
def add_label(incident_id: str, body: LabelIn, request: Request,
              who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    with get_db(request).writing() as session:
        return labels.add(session, incident_id, body.call_id, body.label, actor=who.key_id, note=body.note)


@router.get("/incidents/{incident_id}/labels")
def list_labels(incident_id: str, request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        get_incident(session, incident_id)
        return {"labels": labels.listing(session, incident_id), **labels.counts(session, incident_id)}
