"""Replay jobs as rows: created with their estimate, progressed, finished with their result and a
timeline entry at each end. Outputs are judged in memory and never stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from ulid import ULID

from fireline.db import Database, utcnow
from fireline.errors import NotFound
from fireline.incidents.timeline import append_timeline, stamp
from fireline.investigate.models import Replay


def new_id() -> str:
    return f"RPL-{ULID()}"


def replay_json(r: Replay, *, result: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "incident_id": r.incident_id, "state": r.state, "params": r.params, "estimate": r.estimate,
        "progress": {"done": r.done, "total": r.total}, "error": r.error, "created_by": r.created_by,
        "created_at": stamp(r.created_at), "started_at": stamp(r.started_at) if r.started_at else None,
        "finished_at": stamp(r.finished_at) if r.finished_at else None}
    if result:
        out["result"] = r.result
    return out


def create(session: Session, incident_id: str, params: dict[str, Any], estimate: dict[str, Any], actor: str,
           now: datetime) -> Replay:
    row = Replay(id=new_id(), incident_id=incident_id, state="running", params=params, estimate=estimate, done=0,
                 total=int(estimate["requests"]), created_by=actor, created_at=now, started_at=now)
    session.add(row)
    session.flush()
    append_timeline(session, incident_id, "replay_started", actor,
                    {"replay_id": row.id, "cases": estimate["cases"], "n": estimate["n"], "arms": estimate["arms"],
                     "variants": estimate["variants"], "requests": estimate["requests"],
                     "upstream": estimate["upstream"], "judges": estimate["judges"],
                     "cost_usd": estimate["cost_usd"], "candidate": params.get("candidate")}, at=now)
    return row


def progress(db: Database, replay_id: str, done: int) -> None:
    with db.writing() as session:
        session.execute(update(Replay).where(Replay.id == replay_id).values(done=done))


def finish(session: Session, replay_id: str, result: dict[str, Any] | None, error: str | None,
           cancelled: bool = False) -> Replay:
    row = session.get(Replay, replay_id)
    if row is None:
        raise NotFound(f"no replay {replay_id}")
    now = utcnow()
    row.finished_at = now
    row.state = "cancelled" if cancelled else ("failed" if error else "done")
    row.result, row.error = result, error
    data: dict[str, Any] = {"replay_id": row.id, "state": row.state}
    if result:
        data["summary"] = result["summary"]
        if result.get("families"):
            data["families"] = [{k: f[k] for k in ("family", "arm", "rate", "ci_low", "ci_high", "samples")}
                                for f in result["families"]][:40]
    if error:
        data["error"] = error
    append_timeline(session, row.incident_id, "replay_finished", row.created_by, data, at=now)
    return row


def get(session: Session, incident_id: str, replay_id: str) -> Replay:
    row = session.get(Replay, replay_id)
    if row is None or row.incident_id != incident_id:
        raise NotFound(f"no replay {replay_id} on incident {incident_id}")
    return row


def listing(session: Session, incident_id: str, limit: int = 50) -> list[Replay]:
    return list(session.scalars(select(Replay).where(Replay.incident_id == incident_id)
                                .order_by(Replay.created_at.desc()).limit(limit)))


def mark_interrupted(db: Database) -> None:
    with db.writing() as session:
        for row in session.scalars(select(Replay).where(Replay.state.in_(("queued", "running")))):
            row.state, row.error, row.finished_at = "failed", "interrupted: the server restarted", utcnow()
            append_timeline(session, row.incident_id, "replay_finished", "fireline",
                            {"replay_id": row.id, "state": "failed", "error": row.error})
