"""HTTP for investigation: what changed before onset; replay jobs; verification of a fix; the
labelling queue."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fireline import background
from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.config import Config
from fireline.db import Database, utcnow
from fireline.durations import parse_duration as duration
from fireline.errors import Invalid
from fireline.evals.config import EvalsConfig, resolve_upstream
from fireline.evals.jobs import Jobs, Throttle
from fireline.evals.run import judging_for
from fireline.evals.runner import Runner
from fireline.incidents import bus
from fireline.incidents.service import get_incident
from fireline.investigate import jobs, labels, replay, verify
from fireline.investigate.replay import ReplayIn
from fireline.investigate.service import changes_before_onset

router = APIRouter(prefix="/api/v1", tags=["investigate"])


@router.get("/incidents/{incident_id}/changes")
def what_changed(incident_id: str, request: Request, hours: float = Query(24.0, gt=0, le=24 * 31),
                 _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).writing() as session:  # the onset is stored on the incident the first time
        return changes_before_onset(session, get_incident(session, incident_id), hours=hours)


def _judging(request: Request) -> Any:
    detect = getattr(request.app.state, "detect", None)
    return judging_for(request.app.state.config, detectors=detect.detection.for_judging() if detect else None)


@router.post("/incidents/{incident_id}/replays", status_code=202)
def start_replay(incident_id: str, body: ReplayIn, request: Request, response: Response,
                 who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Start a replay job (202 with its id and estimate); with `dry_run` only the estimate (200)."""
    app = request.app
    db: Database = app.state.db
    config: Config = app.state.config
    cfg: EvalsConfig = app.state.evals_config
    target = resolve_upstream(config, body.upstream, getattr(app.state, "upstream_url", None),
                              getattr(app.state, "upstream_key", None))
    if body.seed is not None:
        target.seed = body.seed
    judging = _judging(request)
    names = judging.known()
    if body.dry_run:
        with db.session() as session:
            inc = get_incident(session, incident_id)
            p = replay.plan(session, inc, body, config, cfg, names, actor=who.key_id, role=who.role, read=False)
            response.status_code = 200
            return {"estimate": replay.estimate(p, config, target.public())}
    params = body.model_dump(exclude={"dry_run"}, exclude_none=True)
    if body.system_prompt is not None:
        params["system_prompt"] = f"<{len(body.system_prompt)} characters>"  # the row keeps no prompt text
    params["candidate"] = body.has_candidate

    def create(session: Session) -> tuple[replay.Plan, dict[str, Any], str]:
        inc = get_incident(session, incident_id)
        p = replay.plan(session, inc, body, config, cfg, names, actor=who.key_id, role=who.role, read=True)
        est = replay.estimate(p, config, target.public())
        row = jobs.create(session, inc.id, params, est, who.key_id, utcnow())
        return p, jobs.replay_json(row), row.id

    p, out, replay_id = bus.within(db, create)
    trials = replay.trials(p, body, config, judging, cfg.max_failure_rate)

    def job(stop: threading.Event) -> None:
        started = time.perf_counter()
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            runner = Runner(target, concurrency=body.concurrency or cfg.concurrency, stop=stop,
                            progress=Throttle(lambda d, _t: jobs.progress(db, replay_id, d)))
            results = runner.run(trials)
            result = replay.result(p, results, time.perf_counter() - started, target.public())
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        bus.within(db, lambda s: jobs.finish(s, replay_id, result, error, cancelled=stop.is_set()))

    jobs_: Jobs = app.state.jobs
    jobs_.submit(replay_id, job)
    return out


@router.get("/incidents/{incident_id}/replays")
def list_replays(incident_id: str, request: Request, limit: int = Query(50, ge=1, le=500),
                 _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        get_incident(session, incident_id)
        return {"replays": [jobs.replay_json(r, result=False) for r in jobs.listing(session, incident_id, limit)]}


@router.get("/incidents/{incident_id}/replays/{replay_id}")
def get_replay(incident_id: str, replay_id: str, request: Request,
               _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        return jobs.replay_json(jobs.get(session, incident_id, replay_id))


@router.delete("/incidents/{incident_id}/replays/{replay_id}")
def cancel_replay(incident_id: str, replay_id: str, request: Request,
                  _: Principal = Depends(require("responder"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        row = jobs.get(session, incident_id, replay_id)
        out = jobs.replay_json(row, result=False)
    out["cancelling"] = request.app.state.jobs.cancel(replay_id)
    return out


def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    jobs.mark_interrupted(app.state.db)
    if app.state.evals_config.verify.auto:
        spawn(app, auto_verify(app, app.state.evals_config.verify.every_s), "fix-verification")


def check(config: Config) -> None:
    return None


# ---- verification of a fix ---------------------------------------------------------------------
class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: str | float | None = Field(None, description="new traffic to judge: 30s, 5m, 1h (default evals.verify)")
    min_calls: int | None = Field(None, ge=1, le=1_000_000)
    settle_s: float | None = Field(None, ge=0, le=3600)
    record: bool = True


def _verify_opts(cfg: EvalsConfig, body: VerifyIn) -> verify.Options:
    try:
        window = duration(body.window) if body.window is not None else cfg.verify.window
    except ValueError as exc:
        raise Invalid(f"window: {exc}", field="window") from None
    return verify.Options(window=window, min_calls=body.min_calls or cfg.verify.min_calls,
                          settle_s=cfg.verify.settle_s if body.settle_s is None else body.settle_s)


@router.post("/incidents/{incident_id}/fix-verification")
def verify_fix(incident_id: str, request: Request, body: VerifyIn | None = None,
               who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Check the fix now; the verdict goes on the timeline unless `record` is false."""
    b = body or VerifyIn()
    opts = _verify_opts(request.app.state.evals_config, b)
    defs = request.app.state.detect.defs

    def run(session: Session) -> dict[str, Any]:
        now = utcnow()
        result = verify.verify(session, get_incident(session, incident_id), defs, opts, now)
        if b.record:
            verify.record(session, result, who.key_id, now)
        return result

    return bus.within(get_db(request), run)


@router.get("/incidents/{incident_id}/fix-verification")
def last_verification(incident_id: str, request: Request,
                      _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        get_incident(session, incident_id)
        return {"incident_id": incident_id, "last": verify.last_recorded(session, incident_id)}


async def auto_verify(app: FastAPI, every_s: float = 10.0) -> None:
    """The playbook step after a model or prompt pin: verify until it passes, or fails at the deadline.
    A failing run (the database away) is logged, counted, backed off and retried; one process of the
    deployment (the leader) verifies."""
    await background.every("fix-verification", background.in_thread(verify_pending, app), every_s, cap=300.0,
                           only_if=app.state.leader.is_leader)


def verify_pending(app: FastAPI) -> list[str]:
    """Verify every incident with a pin in force and no verdict since; record final verdicts only."""
    cfg: EvalsConfig = app.state.evals_config
    db: Database = app.state.db
    opts = verify.Options(cfg.verify.window, cfg.verify.min_calls, cfg.verify.settle_s)
    now = utcnow()
    recorded: list[str] = []
    with db.session() as session:
        candidates = verify.awaiting(session, now - cfg.verify.deadline - cfg.verify.window)
    for incident_id, pin_at in candidates:
        def run(session: Session, incident_id: str = incident_id, pin_at: datetime = pin_at) -> bool:
            result = verify.verify(session, get_incident(session, incident_id), app.state.detect.defs, opts, now)
            late = now - pin_at > cfg.verify.deadline
            if result["verdict"] == "passed" or (result["verdict"] == "failed" and late) or \
                    (result["verdict"] == "pending" and late):
                if result["verdict"] == "pending":
                    result = {**result, "verdict": "failed",
                              "summary": f"no verdict {cfg.verify.deadline} after the pin: {result['summary']}"}
                verify.record(session, result, "fireline-verify", now)
                return True
            return False

        if bus.within(db, run):
            recorded.append(incident_id)
    return recorded


def after_action_view(*, session: Session, incident: Any, **_: Any) -> dict[str, Any]:
    """What GET /api/v1/incidents/{id} shows of the after-action work (incident view "after_action")."""
    from fireline.evals.service import lock_status

    last = next(iter(jobs.listing(session, incident.id, 1)), None)
    replay_summary = None
    if last is not None:
        replay_summary = {**jobs.replay_json(last, result=False),
                          "summary": (last.result or {}).get("summary")}
    return {"eval_lock": lock_status(session, incident.id), "last_replay": replay_summary,
            "fix_verification": verify.last_recorded(session, incident.id)}


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
