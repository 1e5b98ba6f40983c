"""The eval lock as plain functions over a session: build it from an incident, store suites,
record runs (reported by CI or run here), and the close gate.

A lock is the suite `lock-<incident id>`; it passes when its most recent finished run passed
(every case's upper Wilson bound at or under its threshold). Inputs are stored redacted; a raw
export reads the raw calls again (access-logged) and is never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call
from fireline.calls.service import read_raw
from fireline.config import Config
from fireline.detect.canaries import mask
from fireline.errors import Conflict, Invalid, NotFound
from fireline.evals import cases as derive
from fireline.evals.config import EvalsConfig
from fireline.evals.models import EvalRun, EvalSuite, LockWaiver
from fireline.evals.stats import min_samples, wilson
from fireline.evals.suite import Suite, SuiteError, parse
from fireline.incidents.service import get_incident, linked_call_ids
from fireline.incidents.timeline import append_timeline, stamp


def lock_id(incident_id: str) -> str:
    return f"lock-{incident_id}"


def _t(value: datetime | None) -> str | None:
    return stamp(value) if value else None


def run_json(r: EvalRun, *, report: bool = False) -> dict[str, Any]:
    out = {"id": r.id, "suite_id": r.suite_id, "source": r.source, "actor": r.actor, "target": r.target,
           "app": r.app, "model": r.model, "prompt_version": r.prompt_version, "state": r.state,
           "status": r.status, "passed": r.passed, "done": r.done, "total": r.total, "error": r.error,
           "created_at": _t(r.created_at), "finished_at": _t(r.finished_at)}
    if r.report is not None:
        counts = r.report.get("counts")
        out["counts"] = counts
        if report:
            out["report"] = r.report
    return out


def last_run(session: Session, suite_id: str) -> EvalRun | None:
    return session.scalars(select(EvalRun).where(EvalRun.suite_id == suite_id, EvalRun.state == "done")
                           .order_by(EvalRun.id.desc()).limit(1)).first()


def suite_json(session: Session, row: EvalSuite, *, body: bool = False) -> dict[str, Any]:
    last = last_run(session, row.id)
    out = {"id": row.id, "incident_id": row.incident_id, "app": row.app, "title": row.title, "cases": row.cases,
           "created_at": _t(row.created_at), "created_by": row.created_by, "updated_at": _t(row.updated_at),
           "updated_by": row.updated_by, "last_run": run_json(last) if last else None}
    if body:
        out["suite"] = row.body
    return out


def masked(body: dict[str, Any]) -> dict[str, Any]:
    """The suite as a viewer sees it: canary tokens masked, as everywhere else for viewers."""
    out = dict(body)
    cases = []
    for case in body.get("cases") or []:
        exp = dict(case.get("expect") or {})
        if exp.get("must_not_contain_canaries"):
            exp["must_not_contain_canaries"] = [mask(t) for t in exp["must_not_contain_canaries"]]
        cases.append({**case, "expect": exp})
    out["cases"] = cases
    return out


def get_suite(session: Session, suite_id: str) -> EvalSuite:
    row = session.get(EvalSuite, suite_id)
    if row is None:
        raise NotFound(f"no eval suite {suite_id}", field="suite_id")
    return row


def suite_of(row: EvalSuite) -> Suite:
    return parse(row.body, row.id)


def list_suites(session: Session, incident_id: str | None = None, limit: int = 200) -> list[EvalSuite]:
    stmt = select(EvalSuite).order_by(EvalSuite.updated_at.desc()).limit(limit)
    if incident_id:
        stmt = stmt.where(EvalSuite.incident_id == incident_id)
    return list(session.scalars(stmt))


def _build(session: Session, incident_id: str, config: Config, cfg: EvalsConfig,
           raw: derive.RawReader | None = None) -> dict[str, Any]:
    inc = get_incident(session, incident_id)
    calls, found = derive.load_calls(session, linked_call_ids(session, incident_id))
    cases = derive.derive(session, inc.id, inc.type, config, calls, found, max_cases=cfg.max_cases, raw=raw)
    if not cases:
        raise Conflict(f"incident {incident_id} has no linked call with a logged input and something to expect "
                       f"(link calls first: POST /api/v1/incidents/{incident_id}/calls)", allowed=[])
    apps = list((inc.scope or {}).get("apps", []))
    model = next((c["model"] for c in cases if c.get("model")), None)
    return {"fireline_eval": 1, "id": lock_id(inc.id), "title": f"Eval lock for {inc.id}: {inc.title}"[:500],
            "incident": inc.id, "app": apps[0] if apps else cases[0].get("app"), "created_at": stamp(inc.detected_at),
            "defaults": {"max_failure_rate": cfg.max_failure_rate, "confidence": cfg.confidence,
                         "n": min_samples(cfg.max_failure_rate, cfg.confidence), "model": model},
            "cases": cases}


def build_lock(session: Session, incident_id: str, config: Config, cfg: EvalsConfig, actor: str, now: datetime,
               *, regenerate: bool = False) -> tuple[EvalSuite, bool]:
    """The incident's lock (made from its linked calls when missing, or when `regenerate`)."""
    row = session.get(EvalSuite, lock_id(incident_id))
    if row is not None and not regenerate:
        return row, False
    body = parse(_build(session, incident_id, config, cfg), lock_id(incident_id)).dump()
    created = row is None
    if row is None:
        row = EvalSuite(id=body["id"], incident_id=incident_id, created_at=now, created_by=actor, body=body,
                        cases=len(body["cases"]), updated_at=now, updated_by=actor)
        session.add(row)
    row.body, row.cases, row.app, row.title = body, len(body["cases"]), body.get("app"), body.get("title")
    row.updated_at, row.updated_by = now, actor
    session.flush()
    append_timeline(session, incident_id, "eval_lock_created" if created else "eval_lock_regenerated", actor,
                    {"suite_id": row.id, "cases": row.cases, "max_failure_rate": cfg.max_failure_rate}, at=now)
    return row, True


def raw_suite(session: Session, row: EvalSuite, config: Config, cfg: EvalsConfig, *, actor: str, role: str
              ) -> dict[str, Any]:
    """The lock with raw inputs re-read from the calls (each read access-logged); never stored."""
    if not row.incident_id:
        raise Invalid("a raw export exists only for a lock made from an incident", field="raw")

    def reader(call: Call) -> dict[str, Any] | None:
        return read_raw(session, call, actor=actor, role=role, reason=f"eval export of {row.incident_id}")

    body = _build(session, row.incident_id, config, cfg, raw=reader)
    body["defaults"] = row.body.get("defaults", body["defaults"])
    return parse(body, row.id).dump()


def store_suite(session: Session, suite: Suite, actor: str, now: datetime) -> tuple[EvalSuite, bool]:
    """Create or replace a suite from a file (a team's edits come back this way)."""
    row = session.get(EvalSuite, suite.id)
    created = row is None
    if row is None:
        row = EvalSuite(id=suite.id, created_at=now, created_by=actor, body={}, cases=0, updated_at=now,
                        updated_by=actor)
        session.add(row)
    if suite.incident:
        get_incident(session, suite.incident)
    row.incident_id, row.app, row.title = suite.incident, suite.app, suite.title
    row.body, row.cases, row.updated_at, row.updated_by = suite.dump(), len(suite.cases), now, actor
    session.flush()
    if suite.incident:
        append_timeline(session, suite.incident, "eval_lock_updated", actor,
                        {"suite_id": suite.id, "cases": row.cases, "created": created}, at=now)
    return row, created


def parse_suite(data: Any, name: str) -> Suite:
    try:
        return parse(data, name)
    except SuiteError as exc:
        raise Invalid(str(exc), field="suite") from None


# ---- results -------------------------------------------------------------------------------

class CaseResultIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    case_id: str = Field(min_length=1, max_length=300)
    samples: int = Field(ge=0)
    failures: int = Field(ge=0)
    errors: int = Field(0, ge=0)
    threshold: float = Field(gt=0, lt=1)
    confidence: float = Field(0.95, ge=0.5, lt=1)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    suite_id: str | None = None
    target: str = Field(min_length=1, max_length=2000)
    app: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    cases: list[CaseResultIn] = Field(min_length=1, max_length=10_000)


def normalise(report: dict[str, Any]) -> dict[str, Any]:
    """Recompute every case's interval and status from its counts: a report cannot claim a pass."""
    try:
        parsed = ReportIn.model_validate(report)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"{loc}: {first['msg']}", field=loc) from None
    cases = []
    counts = {"passed": 0, "failed": 0, "error": 0}
    for i, c in enumerate(parsed.cases):
        if c.failures > c.samples:
            raise Invalid(f"cases.{i}.failures: more failures than samples", field=f"cases.{i}.failures")
        lo, hi = wilson(c.failures, c.samples, c.confidence)
        status = "error" if not c.samples else ("passed" if hi <= c.threshold else "failed")
        counts[status] += 1
        cases.append({**c.model_dump(), "rate": c.failures / c.samples if c.samples else None,
                      "ci_low": round(lo, 6), "ci_high": round(hi, 6), "status": status})
    status = "error" if counts["error"] else ("failed" if counts["failed"] else "passed")
    return {**report, "cases": cases, "counts": counts, "status": status, "passed": status == "passed"}


def record_result(session: Session, suite_id: str, report: dict[str, Any], actor: str, now: datetime,
                  source: str = "ci") -> EvalRun:
    row = get_suite(session, suite_id)
    if report.get("suite_id") not in (None, suite_id):
        raise Invalid(f"suite_id: the report is for {report['suite_id']}, not {suite_id}", field="suite_id")
    rep = normalise(report)
    known = {c.id for c in suite_of(row).cases}
    unknown = [c["case_id"] for c in rep["cases"] if c["case_id"] not in known]
    if unknown:
        raise Invalid(f"cases: not in suite {suite_id}: {', '.join(unknown[:5])}", field="cases")
    missing = sorted(known - {c["case_id"] for c in rep["cases"]})
    if missing:  # a run of part of the suite cannot vouch for all of it
        rep["status"], rep["passed"] = ("failed" if rep["status"] == "passed" else rep["status"]), False
        rep["missing_cases"] = missing
    sent = sum(c["samples"] + c["errors"] for c in rep["cases"])
    run = EvalRun(suite_id=suite_id, source=source, actor=actor, target=str(rep["target"])[:2000],
                  app=rep.get("app"), model=rep.get("model"), prompt_version=rep.get("prompt_version"), state="done",
                  status=rep["status"], passed=rep["passed"], done=sent, total=sent, report=rep, created_at=now,
                  finished_at=now)
    session.add(run)
    session.flush()
    if row.incident_id:
        append_timeline(session, row.incident_id, "eval_lock_result", actor, _result_data(run, rep), at=now)
    return run


def _result_data(run: EvalRun, rep: dict[str, Any]) -> dict[str, Any]:
    failed = [c["case_id"] for c in rep["cases"] if c["status"] != "passed"]
    return {"suite_id": run.suite_id, "run_id": run.id, "status": run.status, "source": run.source,
            "target": run.target, "model": run.model, "counts": rep.get("counts"), "failed_cases": failed[:20]}


def finish_server_run(session: Session, run_id: int, report: dict[str, Any] | None, error: str | None,
                      now: datetime) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no eval run {run_id}")
    run.finished_at = now
    if error is not None or report is None:
        run.state, run.status, run.error = "failed", "error", error
    else:
        rep = normalise(report)
        run.state, run.status, run.passed, run.report = "done", rep["status"], rep["passed"], rep
    suite = session.get(EvalSuite, run.suite_id)
    if suite is not None and suite.incident_id:
        data = _result_data(run, run.report or {"cases": []}) if run.report else \
            {"suite_id": run.suite_id, "run_id": run.id, "status": "error", "error": error}
        append_timeline(session, suite.incident_id, "eval_lock_result", run.actor, data, at=now)
    return run


def runs(session: Session, suite_id: str, limit: int = 50) -> list[EvalRun]:
    return list(session.scalars(select(EvalRun).where(EvalRun.suite_id == suite_id)
                                .order_by(EvalRun.id.desc()).limit(limit)))


# ---- the close gate ------------------------------------------------------------------------

def lock_status(session: Session, incident_id: str) -> dict[str, Any]:
    """Where the incident's lock stands: exists, last result, passing, waived."""
    row = session.get(EvalSuite, lock_id(incident_id)) or next(iter(list_suites(session, incident_id, 1)), None)
    waiver = session.get(LockWaiver, incident_id)
    last = last_run(session, row.id) if row else None
    return {"incident_id": incident_id, "suite_id": row.id if row else None, "exists": row is not None,
            "cases": row.cases if row else 0, "last_run": run_json(last) if last else None,
            "passing": bool(last and last.passed),
            "waived": {"reason": waiver.reason, "actor": waiver.actor, "at": stamp(waiver.at)} if waiver else None}


def check_close(session: Session, incident_id: str, cfg: EvalsConfig) -> None:
    """Raise Conflict unless the incident may close: its lock passes, or it was waived, or the
    gate is off (`evals.close_requires_lock: false`)."""
    if not cfg.close_requires_lock:
        return
    st = lock_status(session, incident_id)
    if st["passing"] or st["waived"]:
        return
    if not st["exists"]:
        why = (f"it has no eval lock yet: create it (fireline eval export {incident_id}), run it against the fix "
               f"and report the result")
    elif st["last_run"] is None:
        why = f"its eval lock {st['suite_id']} has not been run yet"
    else:
        why = f"the last run of its eval lock {st['suite_id']} {st['last_run']['status']}"
    raise Conflict(f"cannot close incident {incident_id}: {why}; or waive the lock with a reason "
                   f"(POST /api/v1/incidents/{incident_id}/evals/waive)", state="resolved", allowed=[],
                   lock=st)


def waive(session: Session, incident_id: str, reason: str, actor: str, now: datetime) -> LockWaiver:
    if not reason.strip():
        raise Invalid("reason: a waiver needs a reason", field="reason")
    get_incident(session, incident_id)
    row = session.get(LockWaiver, incident_id)
    if row is None:
        row = LockWaiver(incident_id=incident_id, reason=reason.strip(), actor=actor, at=now)
        session.add(row)
    else:
        row.reason, row.actor, row.at = reason.strip(), actor, now
    append_timeline(session, incident_id, "eval_lock_waived", actor, {"reason": reason.strip()}, at=now)
    return row
