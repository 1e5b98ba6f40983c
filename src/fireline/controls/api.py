"""Routes of the control plane, and its startup: the ControlBook, expiry and poll loops,
auto-containment, and the evidence source."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response

from fireline import background
from fireline.auth.api import require
from fireline.auth.service import Principal
from fireline.config import Config
from fireline.config_keys import check_section
from fireline.controls import identity, ofrep, playbooks, service, stream
from fireline.controls.notify import Listener
from fireline.controls.schemas import ControlIn, ControlOut, Kind, PlaybookIn
from fireline.controls.service import ControlSpec
from fireline.controls.state import ControlBook, prompt_hash
from fireline.db import Database
from fireline.leader import leading

log = logging.getLogger("fireline.controls")

router = APIRouter()
router.include_router(stream.router)  # before /api/v1/controls/{id}
router.include_router(ofrep.router)
api = APIRouter(prefix="/api/v1", tags=["controls"])


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def _refresh(request: Request) -> None:
    """Make the next request in this process see the change (the bus handler usually did)."""
    book: ControlBook = request.app.state.controls
    book.refresh()


@api.get("/controls")
def list_controls(request: Request, all: bool = False, incident_id: str | None = None,
                  app: str | None = None, kind: Kind | None = None,  # a misspelt kind: 422 naming them
                  limit: int = Query(500, ge=1, le=5000),
                  _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    rows = service.list_controls(_db(request), include_all=all, incident_id=incident_id, app=app,
                                 kind=kind, limit=limit)
    return {"controls": [ControlOut(**r) for r in rows],
            "revision": request.app.state.controls.current().revision}


@api.post("/controls", status_code=201, response_model=ControlOut)
def apply(body: ControlIn, request: Request, response: Response,
          who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    """201 with the new control; 200 with the one in force when the same control exists already."""
    spec = ControlSpec(kind=body.kind, scope=body.scope, params=body.params, incident_id=body.incident_id,
                       reason=body.reason, expires_at=body.expires_at)
    out = service.apply_control(_db(request), request.app.state.config, spec, who.key_id,
                                allow_inject=who.can("admin"))
    if out["existing"]:
        response.status_code = 200
    _refresh(request)
    return out


@api.get("/controls/registry")
def registry(request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Per app: the model registry (current first), prompt versions with SHA-256, tool kinds."""
    apps = request.app.state.config.apps
    return {"apps": {name: {"models": cfg.models, "current_model": cfg.models[0] if cfg.models else None,
                            "prompts": [{"version": v, "sha256": prompt_hash(t)} for v, t in cfg.prompts.items()],
                            "tools": cfg.tools, "fallback": cfg.fallback, "fail_closed": cfg.fail_closed}
                     for name, cfg in apps.items()}}


@api.get("/controls/{control_id}", response_model=ControlOut)
def get_control(control_id: str, request: Request, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return service.get_control(_db(request), control_id)


@api.delete("/controls/{control_id}", response_model=ControlOut)
def revert(control_id: str, request: Request, reason: str | None = Query(None, max_length=2000),
           who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    out = service.revert_control(_db(request), control_id, who.key_id, reason)
    _refresh(request)
    return out


@api.post("/incidents/{incident_id}/playbook", status_code=201)
def run_playbook(incident_id: str, request: Request, body: PlaybookIn | None = None,
                 who: Principal = Depends(require("responder"))) -> dict[str, Any]:
    done = playbooks.contain(_db(request), incident_id, who.key_id, all_actions=bool(body and body.all),
                             config=request.app.state.config, refresh=request.app.state.controls.refresh)
    rows = [service.get_control(_db(request), c.id) for c in done.controls]
    revision = max((c.revision for c in done.controls), default=request.app.state.controls.current().revision)
    return {"controls": [ControlOut(**r) for r in rows], "revoked_keys": done.revoked_keys, "revision": revision}


router.include_router(api)


# --- startup -------------------------------------------------------------------------------

def _expire(db: Database) -> None:
    expired = service.expire_due(db)
    if expired:
        log.info("expired controls: %s", ", ".join(expired))


def _poll(book: ControlBook) -> None:
    """Changes made by other processes (other replicas, the CLI on the database) show up here."""
    if book.stored_revision() != book.current().revision:
        book.refresh()


def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    db: Database = app.state.db
    conf = dict(app.state.config.section("controls") or {})
    book: ControlBook = app.state.controls  # made and subscribed by fireline.wiring
    identity.pseudonymise_stored_scopes(db)  # no raw user id left in a stored scope
    book.refresh()
    app.state.controls_closing = asyncio.Event()
    spawn(app, background.every("controls-expiry", background.in_thread(_expire, db),
                                float(conf.get("expiry_interval_s", 1.0)), cap=30.0, only_if=leading(app)),
          "controls-expiry")
    spawn(app, background.every("controls-poll", background.in_thread(_poll, book),
                                float(conf.get("poll_interval_s", 1.0)), cap=30.0), "controls-poll")
    app.state.controls_listener = Listener(book).start() if db.dialect == "postgresql" else None


def shutdown(app: FastAPI) -> None:
    app.state.controls_closing.set()
    listener = getattr(app.state, "controls_listener", None)
    if listener is not None:
        listener.stop()


def check(config: Config) -> None:
    """Fail at start, with the field named, on a bad `playbooks`, `auto_contain` or `controls` section."""
    check_section(config.section("controls"), dict.fromkeys(("expiry_interval_s", "keepalive_s", "poll_interval_s",
                                                             "stream_max_s"), "positive"), "controls")
    playbooks.check_config(config)
