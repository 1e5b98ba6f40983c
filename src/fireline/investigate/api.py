"""GET /api/v1/incidents/{id}/changes: what changed before onset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.incidents.service import get_incident
from fireline.investigate.service import changes_before_onset

router = APIRouter(prefix="/api/v1", tags=["investigate"])


@router.get("/incidents/{incident_id}/changes")
def what_changed(incident_id: str, request: Request, hours: float = Query(24.0, gt=0, le=24 * 31),
                 _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).writing() as session:  # the onset is stored on the incident the first time
        return changes_before_onset(session, get_incident(session, incident_id), hours=hours)
