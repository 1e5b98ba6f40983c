"""Drills from the console: launch a shipped scenario on this server, follow it, read its report.

The drill runs in a thread of this process as an HTTP client of the server itself (the same runner
as `fireline drill`), with the launching admin's key held in memory for the run only. Jobs and their
reports are kept in memory (the last 50): a restart forgets them; the drill's incident, controls and
timeline stay in the database like any other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.drills import report as reporting
from fireline.drills.runner import Drill
from fireline.drills.scenario import builtin_names, load
from fireline.errors import Invalid, NotFound
from fireline.validation import NonBlank

router = APIRouter(prefix="/api/v1", tags=["drills"])
KEEP = 50


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: NonBlank = Field(min_length=1, max_length=100)
    app: NonBlank = Field("drill", min_length=1, max_length=200)
    auto_ack: bool = False
    contain: bool = False
    timeout: float = Field(30.0, gt=0, le=300)


class Jobs:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def add(self, job: dict[str, Any]) -> None:
        with self.lock:
            self.jobs[job["id"]] = job
            while len(self.jobs) > KEEP:
                self.jobs.popitem(last=False)

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(j) for j in reversed(self.jobs.values())]

    def get(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise NotFound(f"no drill {job_id} (drills are kept in memory until a restart)")
            return dict(job)


def _jobs(request: Request) -> Jobs:
    if not hasattr(request.app.state, "drills"):
        request.app.state.drills = Jobs()
    jobs: Jobs = request.app.state.drills
    return jobs


@router.get("/drills/scenarios")
def scenarios(_: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    out = []
    for name in builtin_names():
        sc = load(name)
        out.append({"name": name, "title": sc.title, "expected_types": sc.expected_types})
    return {"scenarios": out}


@router.get("/drills")
def drills(request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    return {"drills": _jobs(request).listing()}


@router.get("/drills/{drill_id}")
def drill(drill_id: str, request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _jobs(request).get(drill_id)


@router.post("/drills", status_code=202)
def launch(body: DrillIn, request: Request, who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Start a shipped scenario (fault injection is admin only, as with `fireline drill`)."""
    if body.scenario not in builtin_names():
        raise Invalid(f"scenario: one of {', '.join(builtin_names())}", field="scenario")
    token = request.headers.get("authorization", "").partition(" ")[2]
    sc = load(body.scenario)
    base = str(request.base_url).rstrip("/")
    job: dict[str, Any] = {"id": "", "scenario": body.scenario, "title": sc.title, "app": body.app,
                           "state": "running", "steps": [], "launched_by": who.key_id,
                           "started_at": datetime.now(UTC).isoformat(), "finished_at": None,
                           "report": None, "markdown": None, "error": None}

    def say(message: str) -> None:
        job["steps"].append({"at": datetime.now(UTC).isoformat(), "message": message})

    runner = Drill(sc, url=base, token=token, app=body.app, auto_ack=body.auto_ack, contain=body.contain,
                   timeout=body.timeout, say=say)
    job["id"] = runner.id
    jobs = _jobs(request)
    jobs.add(job)

    def run() -> None:
        try:
            result = runner.run()
            job.update(report=result.as_dict(), markdown=reporting.markdown(result),
                       state="done" if result.detected and result.contained else "gaps")
        except Exception as exc:  # the drill's failure is its result, shown to whoever launched it
            job.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            job["finished_at"] = datetime.now(UTC).isoformat()

    threading.Thread(target=run, name=f"drill-{runner.id}", daemon=True).start()
    return dict(job)
