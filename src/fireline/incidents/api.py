"""HTTP for incidents, their timeline, evidence and blast radius (DESIGN.md CONTRACT).

Reads need a viewer key, mutations a responder key; the evidence export (raw content)
needs a responder key and is itself recorded on the timeline.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from fireline import signing
from fireline.auth.api import get_db, require
from fireline.auth.service import Principal
from fireline.calls.models import RawAccess
from fireline.config import Config
from fireline.config_keys import check_section
from fireline.db import utcnow
from fireline.incidents import bus, edits, evidence, links, service, sla
from fireline.incidents import timeline as tl
from fireline.incidents.blast import affected as blast_affected
from fireline.incidents.blast import blast_radius
from fireline.incidents.blast import ensure_onset as blast_ensure_onset
from fireline.incidents.blast_series import blast_series
from fireline.incidents.lifecycle import transition
from fireline.incidents.models import Incident
from fireline.incidents.narrate import sentence
from fireline.incidents.schemas import (
    AssignIn,
    DeclareIn,
    LinkIn,
    LinkIncidentIn,
    MergeIn,
    MoveIn,
    NoteIn,
    RetypeIn,
    SeverityIn,
    SnapshotIn,
    incident_json,
)
from fireline.incidents.taxonomy import TYPES, check_triage
from fireline.validation import Instant

router = APIRouter(prefix="/api/v1", tags=["incidents"])
ACTIONS = {"ack": "ack", "contain": "contain", "resolve": "resolve", "close": "close",
           "false-positive": "false_positive"}


def _out(session: Session, inc: Incident) -> dict[str, Any]:
    return incident_json(inc, service.linked_call_ids(session, inc.id),
                         [{"id": x["id"], "kind": x["kind"]} for x in links.links_of(session, inc.id)])


def _fresh(request: Request, incident_id: str) -> dict[str, Any]:
    with get_db(request).session() as session:
        return _out(session, service.get_incident(session, incident_id))


@router.get("/incidents")
def list_incidents(request: Request, state: str | None = None, type: str | None = None,
                   severity: str | None = None, app: str | None = None, drill: bool | None = None,
                   limit: int = Query(100, ge=1, le=1000),
                   _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        rows = service.list_incidents(session, state=state, type=type, severity=severity, app=app, drill=drill,
                                      limit=limit)
        return {"incidents": [_out(session, r) for r in rows]}


@router.get("/incident-types")
def incident_types(_: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    """The incident types (TAXONOMY.md) with their default severity and playbook, for forms."""
    return {"types": [{"name": t.name, "severity": t.severity, "playbook": t.playbook, "owasp": t.owasp}
                      for t in TYPES.values()]}


@router.post("/incidents", status_code=201)
def declare(body: DeclareIn, request: Request, who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    inc = service.declare(get_db(request), body, who.key_id)
    return _fresh(request, inc.id)


# Later parts add what they know of one incident to its detail view (comms: disclosure deadlines):
# named handlers of this topic, fn(request=..., session=..., incident=...) (fireline.wiring).
VIEWS_TOPIC = "incident.view"


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: str, request: Request,
                 _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        inc = service.get_incident(session, incident_id)
        out = _out(session, inc)
        for name, fn in get_db(request).bus.named(VIEWS_TOPIC):
            out[name] = fn(request=request, session=session, incident=inc)
        return out


@router.post("/incidents/{incident_id}/assign")
def assign(incident_id: str, body: AssignIn, request: Request,
           who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    edits.assign(get_db(request), incident_id, body.role, body.who, who.key_id, remove=body.remove,
                   reason=body.reason)
    return _fresh(request, incident_id)


@router.post("/incidents/{incident_id}/severity")
def severity(incident_id: str, body: SeverityIn, request: Request,
             who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    edits.set_severity(get_db(request), incident_id, body.severity, who.key_id, body.reason)
    return _fresh(request, incident_id)


@router.post("/incidents/{incident_id}/type")
def retype(incident_id: str, body: RetypeIn, request: Request,
           who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    edits.retype(get_db(request), incident_id, body.type, who.key_id, body.reason, body.severity)
    return _fresh(request, incident_id)


@router.post("/incidents/{incident_id}/notes", status_code=201)
def note(incident_id: str, body: NoteIn, request: Request,
         who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    entry = edits.add_note(get_db(request), incident_id, body.text, who.key_id, body.kind)
    return tl.entry_json(entry)


@router.post("/incidents/{incident_id}/calls")
def link(incident_id: str, body: LinkIn, request: Request,
         who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    linked = edits.link_calls(get_db(request), incident_id, body.call_ids, who.key_id)
    return {"linked": linked, "incident": _fresh(request, incident_id)}


@router.get("/incidents/{incident_id}/links")
def incident_links(incident_id: str, request: Request,
                   _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        service.get_incident(session, incident_id)
        return {"links": links.links_of(session, incident_id)}


@router.post("/incidents/{incident_id}/links", status_code=201)
def link_incident(incident_id: str, body: LinkIncidentIn, request: Request,
                  who: Principal = Depends(require("responder"))) -> dict[str, list[dict[str, Any]]]:
    """Mark two incidents as related: a `related` entry on both timelines (idempotent)."""
    return {"links": links.link(get_db(request), incident_id, body.other, who.key_id, body.reason)}


@router.post("/incidents/{incident_id}/merge")
def merge(incident_id: str, body: MergeIn, request: Request,
          who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """Merge this incident into `into`; answers the incident that carries on."""
    into = links.merge(get_db(request), incident_id, body.into, who.key_id, body.reason)
    return _fresh(request, into.id)


@router.get("/incidents/{incident_id}/timeline")
def timeline(incident_id: str, request: Request, after: int = Query(0, ge=0), kind: str | None = None,
             limit: int = Query(1000, ge=1, le=10000),
             _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        service.get_incident(session, incident_id)
        return {"entries": [{**tl.entry_json(e), "text": sentence(e.kind, e.actor, e.data)}
                            for e in tl.entries(session, incident_id, after=after, limit=limit, kind=kind)]}


@router.get("/incidents/{incident_id}/verify")
def verify(incident_id: str, request: Request,
           head: str | None = Query(None, description="an anchored head SEQ:HASH kept outside the database"),
           _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The hash chain, every entry's signature, the stored head, and (with `head`) an anchor."""
    anchor = tl.parse_anchor(head) if head else None
    with get_db(request).session() as session:
        return tl.verify(session, incident_id, anchor).as_json()


@router.get("/signing-key")
def signing_key(_: Principal = Depends(require("viewer"))) -> dict[str, str]:
    """The public key timeline entries and evidence bundles are signed with (for auditors)."""
    return {"algorithm": signing.ALGORITHM, "public_key": signing.public_key_b64(), "key_id": signing.key_id()}


@router.get("/incidents/{incident_id}/snapshots")
def snapshots(incident_id: str, request: Request,
              _: Principal = Depends(require("viewer"))) -> dict[str, list[dict[str, Any]]]:
    with get_db(request).session() as session:
        service.get_incident(session, incident_id)
        return {"snapshots": [evidence.snapshot_json(s) for s in evidence.list_snapshots(session, incident_id)]}


@router.post("/incidents/{incident_id}/snapshots", status_code=201)
def snapshot(incident_id: str, request: Request, body: SnapshotIn | None = None,
             who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    snap = evidence.take_snapshot(get_db(request), incident_id, who.key_id, (body or SnapshotIn()).reason)
    return evidence.snapshot_json(snap)


@router.get("/snapshots/{snapshot_id}")
def snapshot_manifest(snapshot_id: str, request: Request,
                      _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with get_db(request).session() as session:
        return evidence.snapshot_json(evidence.get_snapshot(session, snapshot_id))


@router.get("/snapshots/{snapshot_id}/export")
def export(snapshot_id: str, request: Request, reason: str | None = Query(None, max_length=5000),
           who: Principal = Depends(require("responder"))) -> Response:
    """The decrypted bundle; each call in it is written to the raw access log."""
    reason = reason or request.headers.get("x-fireline-reason")
    data, incident_id = bus.within(get_db(request), lambda s: evidence.export_bundle(
        s, snapshot_id, actor=who.key_id, role=who.role, reason=reason))
    name = f"{incident_id}-{snapshot_id[:12]}.tar.gz"
    return Response(data, media_type="application/gzip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Fireline-Snapshot": snapshot_id})


@router.get("/incidents/{incident_id}/blast-radius")
def blast(incident_id: str, request: Request, since: Instant | None = None, until: Instant | None = None,
          _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    db = get_db(request)
    with db.session() as session:
        placed = service.get_incident(session, incident_id).onset_at is not None
    if not placed:  # the first read places the onset from the log once and keeps it
        bus.within(db, lambda s: blast_ensure_onset(s, service.get_incident(s, incident_id)))
    with db.session() as session:
        return blast_radius(session, service.get_incident(session, incident_id), since=since, until=until)


@router.get("/incidents/{incident_id}/affected")
def affected(incident_id: str, request: Request, format: str = Query("json", pattern="^(json|csv)$"),
             reason: str = Query("notification", min_length=1, max_length=500),
             who: Principal = Depends(require("responder"))) -> Any:
    """Who the incident reached, to notify them: user pseudonyms, sessions, tenants and call ids of
    the blast radius. Responder only; every export is in the access log (one row per call, with the
    reason) and on the incident's timeline (`affected_exported`)."""
    got = blast_export(get_db(request), incident_id, who, reason)
    if format == "csv":
        lines = ["kind,id"] + [f"{kind[:-1]},{value}" for kind in ("users", "sessions", "tenants", "calls")
                               for value in got[kind]]
        return Response("\n".join(lines) + "\n", media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{incident_id}-affected.csv"'})
    return got


def blast_export(db: Any, incident_id: str, who: Principal, reason: str) -> dict[str, Any]:
    def run(session: Session) -> dict[str, Any]:
        inc = service.get_incident(session, incident_id)
        got = blast_affected(session, inc)
        why = f"affected export for {inc.id}: {reason}"
        session.add_all([RawAccess(call_id=c, actor=who.key_id, role=who.role, at=utcnow(), reason=why)
                         for c in got["calls"]])
        tl.append_timeline(session, inc.id, "affected_exported", who.key_id, {
            "users": len(got["users"]), "sessions": len(got["sessions"]), "tenants": len(got["tenants"]),
            "calls": len(got["calls"]), "reason": reason})
        return {"incident_id": inc.id, **got}
    return bus.within(db, run)


@router.get("/incidents/{incident_id}/blast-radius/series")
def blast_over_time(incident_id: str, request: Request, points: int = Query(60, ge=5, le=500),
                    _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Affected calls per time step and tenant, from before onset through containment."""
    with get_db(request).session() as session:
        return blast_series(session, service.get_incident(session, incident_id), points=points)


def _mover(action: str) -> Any:
    def move(incident_id: str, request: Request, body: MoveIn | None = None,
             who: Principal = Depends(require("responder"))) -> dict[str, Any]:
        transition(get_db(request), incident_id, action, who.key_id, body.reason if body else None)
        return _fresh(request, incident_id)

    move.__name__ = f"incident_{action}"
    return move


# One route per move, so other parts' POST /incidents/{id}/<name> routes are never shadowed.
for _path, _action in ACTIONS.items():
    router.add_api_route(f"/incidents/{{incident_id}}/{_path}", _mover(_action), methods=["POST"])


def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    sla.set_config(app.state.config)
    policy = sla.SlaPolicy.from_config(app.state.config)  # a bad `sla` section fails at start
    spawn(app, sla.loop(app, policy), "incident-sla")


def shutdown(app: FastAPI) -> None:
    sla.set_config(None)


def check(config: Config) -> None:
    """Fail at start, with the field named, on a bad `sla` or `triage` section, or a config that
    evidence snapshots could not freeze (no snapshot, no containment)."""
    check_section(config.section("blast_radius"), {"lookback_days": "positive"}, "blast_radius")
    check_section(config.section("incidents"), {"repeat_window_days": "positive"}, "incidents")
    sla.SlaPolicy.from_config(config)
    check_triage(config.section("triage"))
    evidence.check_config(config)
