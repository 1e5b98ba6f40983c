"""HTTP for the eval lock: suites (`/api/v1/evals`), results reported by CI, server-side runs,
and each incident's lock (create, status, waive). The close gate is installed at start-up."""

from __future__ import annotations

import threading
from typing import Any, Literal

import yaml
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.config import Config, ConfigError, load_yaml, yaml_problem
from fireline.db import Database, utcnow
from fireline.errors import Invalid
from fireline.evals import promptfoo, service
from fireline.evals.config import EvalsConfig, evals_config, resolve_upstream, upstreams
from fireline.evals.jobs import Jobs, Throttle
from fireline.evals.models import EvalRun
from fireline.evals.run import Options, judging_for, report, trials_for
from fireline.evals.runner import Runner
from fireline.incidents import bus
from fireline.incidents.models import Incident
from fireline.validation import NonBlank

router = APIRouter(prefix="/api/v1", tags=["evals"])
MAX_SUITE_BYTES = 5 * 1024 * 1024


def _cfg(request: Request) -> EvalsConfig:
    cfg: EvalsConfig = request.app.state.evals_config
    return cfg


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regenerate: bool = False
    raw: bool = False  # accepted for the CLI; raw inputs are only ever exported, never stored


class WaiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: NonBlank = Field(min_length=1, max_length=5000)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upstream: str | None = Field(None, description="a name under `upstreams`, or default")
    app: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    n: int | None = Field(None, ge=1, le=10_000)
    max_failure_rate: float | None = Field(None, gt=0, lt=1)


@router.get("/evals")
def list_suites(request: Request, incident_id: str | None = None, limit: int = Query(200, ge=1, le=1000),
                _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        return {"evals": [service.suite_json(session, r) for r in service.list_suites(session, incident_id, limit)]}


async def _suite_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_SUITE_BYTES:
        raise Invalid(f"suite: over the limit of {MAX_SUITE_BYTES} bytes", field="suite")
    try:
        return load_yaml(raw.decode("utf-8"))  # JSON is YAML too
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Invalid(f"suite: not valid YAML or JSON: {yaml_problem(exc)}", field="suite") from None
    except ConfigError as exc:  # a repeated or non-string key, named by its path
        raise Invalid(f"suite: {exc}", field="suite") from None


@router.put("/evals")
async def put_suite(request: Request, response: Response,
                    who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    suite = service.parse_suite(await _suite_body(request), "suite")

    def run(session: Session) -> dict[str, Any]:
        row, created = service.store_suite(session, suite, who.key_id, utcnow())
        response.status_code = 201 if created else 200
        return service.suite_json(session, row)

    return await run_in_threadpool(bus.within, get_db(request), run)  # never the database on the event loop


@router.get("/evals/{suite_id}")
def get_suite(suite_id: str, request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        row = service.get_suite(session, suite_id)
        out = {**service.suite_json(session, row, body=True),
               "runs": [service.run_json(r) for r in service.runs(session, suite_id, 20)]}
        if not who.can("responder"):
            out["suite"] = service.masked(out["suite"])
        return out


@router.get("/evals/{suite_id}/export", response_model=None)
def export(suite_id: str, request: Request, format: Literal["yaml", "json", "promptfoo"] = "yaml",
           raw: bool = False, target: str | None = Query(None, description="promptfoo: the OpenAI base URL"),
           who: Principal = Depends(require("viewer"))) -> Any:
    db = get_db(request)
    if raw and not who.can("responder"):
        raise Invalid("raw: a raw export needs a responder key (each raw read is access-logged)", field="raw")
    if raw:
        body = bus.within(db, lambda s: service.raw_suite(s, service.get_suite(s, suite_id),
                                                           request.app.state.config, _cfg(request),
                                                           actor=who.key_id, role=who.role))
    else:
        with db.session() as session:
            body = service.get_suite(session, suite_id).body
        if not who.can("responder"):
            body = service.masked(body)  # planted tokens are for responders (and CI's copy)
    if format == "json":
        return body
    suite = service.parse_suite(body, suite_id)
    if format == "promptfoo":
        text = promptfoo.export(suite, base_url=target or f"{str(request.base_url).rstrip('/')}/v1")
    else:
        text = f"# Fireline eval suite {suite.id}: keep it in your repo and run it in CI with\n" \
               f"#   fireline eval run {suite.id}.yaml --target URL --app {suite.app or 'APP'} --junit report.xml\n" \
               + suite.to_yaml()
    return PlainTextResponse(text, media_type="application/yaml; charset=utf-8")


@router.post("/evals/{suite_id}/results", status_code=201)
async def post_result(suite_id: str, request: Request,
                      who: Principal = Depends(require("ingest"))) -> dict[str, Any]:
    body = await _suite_body(request)
    if not isinstance(body, dict):
        raise Invalid("body: a run report object (as `fireline eval run --json` prints)", field="body")
    run = await run_in_threadpool(bus.within, get_db(request),
                                  lambda s: service.record_result(s, suite_id, body, who.key_id, utcnow()))
    return service.run_json(run, report=True)


@router.get("/evals/{suite_id}/runs")
def list_runs(suite_id: str, request: Request, limit: int = Query(50, ge=1, le=500),
              _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        service.get_suite(session, suite_id)
        return {"runs": [service.run_json(r) for r in service.runs(session, suite_id, limit)]}


@router.get("/eval-runs/{run_id}")
def get_run(request: Request, run_id: int = Path(ge=1, le=2**31 - 1),
            _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise Invalid(f"no eval run {run_id}", field="run_id")
        return service.run_json(run, report=True)


@router.post("/evals/{suite_id}/runs", status_code=202)
def start_run(suite_id: str, body: RunIn, request: Request,
              who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Run the suite here against the upstream (or a named one), bypassing the gateway."""
    app = request.app
    db: Database = app.state.db
    config: Config = app.state.config
    cfg = _cfg(request)
    target = resolve_upstream(config, body.upstream, getattr(app.state, "upstream_url", None),
                              getattr(app.state, "upstream_key", None))
    with db.session() as session:
        suite = service.suite_of(service.get_suite(session, suite_id))
    opts = Options(app=body.app or suite.app or "default", n=body.n, max_failure_rate=body.max_failure_rate,
                   model=body.model, prompt_version=body.prompt_version, concurrency=cfg.concurrency)
    detect = getattr(app.state, "detect", None)
    judging = judging_for(config, detectors=detect.detection.for_judging() if detect else None)
    try:
        trials = trials_for(suite, opts, judging, config)
    except ValueError as exc:
        raise Invalid(str(exc), field="model") from None
    now = utcnow()
    with db.writing() as session:
        run = EvalRun(suite_id=suite_id, source="server", actor=who.key_id, target=target.public(), app=opts.app,
                      model=body.model, prompt_version=body.prompt_version, state="running", passed=False, done=0,
                      total=sum(t.n for t in trials), created_at=now)
        session.add(run)
        session.flush()
        run_id = run.id
        out = service.run_json(run)

    def progress(done: int, total: int) -> None:
        with db.writing() as session:
            session.execute(update(EvalRun).where(EvalRun.id == run_id).values(done=done))

    def job(stop: threading.Event) -> None:
        import time as _time

        started = _time.time()
        try:
            results = Runner(target, concurrency=opts.concurrency, progress=Throttle(progress), stop=stop).run(trials)
            rep: dict[str, Any] | None = report(suite, target, opts, results, started, _time.time())
            error = "cancelled" if stop.is_set() else None
        except Exception as exc:
            rep, error = None, f"{type(exc).__name__}: {exc}"[:500]
        bus.within(db, lambda s: service.finish_server_run(s, run_id, None if error else rep, error, utcnow()))

    app.state.jobs.submit(f"eval-run-{run_id}", job)
    return out


@router.post("/incidents/{incident_id}/evals")
def make_lock(incident_id: str, request: Request, response: Response, body: LockIn | None = None,
              who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Create the incident's eval lock from its linked calls (idempotent; `regenerate` rebuilds it)."""
    b = body or LockIn()

    def run(session: Session) -> dict[str, Any]:
        row, created = service.build_lock(session, incident_id, request.app.state.config, _cfg(request), who.key_id,
                                          utcnow(), regenerate=b.regenerate)
        response.status_code = 201 if created else 200
        return service.suite_json(session, row)

    return bus.within(get_db(request), run)


@router.get("/incidents/{incident_id}/evals")
def lock_status(incident_id: str, request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        service.get_incident(session, incident_id)
        return {**service.lock_status(session, incident_id),
                "close_requires_lock": _cfg(request).close_requires_lock}


@router.post("/incidents/{incident_id}/evals/waive")
def waive(incident_id: str, body: WaiveIn, request: Request,
          who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    def run(session: Session) -> dict[str, Any]:
        service.waive(session, incident_id, body.reason, who.key_id, utcnow())
        return service.lock_status(session, incident_id)

    return bus.within(get_db(request), run)


# ---- wiring ----------------------------------------------------------------------------------
def close_gate(cfg: EvalsConfig) -> Any:
    """The "incident.guard.close" handler: no close without a passing (or waived) lock."""

    def eval_lock(*, session: Session, incident: Incident, **_: Any) -> None:
        service.check_close(session, incident.id, cfg)

    return eval_lock


def _mark_interrupted(db: Database) -> None:
    with db.writing() as session:
        session.execute(update(EvalRun).where(EvalRun.state.in_(("queued", "running")))
                        .values(state="failed", status="error", error="interrupted: the server restarted",
                                finished_at=utcnow()))


def startup(app: FastAPI) -> None:
    _mark_interrupted(app.state.db)


def shutdown(app: FastAPI) -> None:
    jobs: Jobs | None = getattr(app.state, "jobs", None)
    if jobs is not None:
        jobs.shutdown()


def check(config: Config) -> None:
    """Fail at start, naming the field, on a bad `evals` or `upstreams` section."""
    evals_config(config)
    upstreams(config)
