"""The `Authorization: Bearer` check as a FastAPI dependency, and the key admin endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from fireline.auth import service
from fireline.auth.service import Principal
from fireline.config import Config
from fireline.config_keys import check_section
from fireline.db import Database
from fireline.metrics import BACKGROUND_FAILURES
from fireline.validation import NonBlank

log = logging.getLogger("fireline.auth")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def require(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that answers 401 without a valid key and 403 below `role`. On the event loop
    from memory when the key was checked lately; the database is read in a worker thread only
    when it was not (a thread hop per request cost the loop more than the route itself)."""

    async def check(request: Request) -> Principal:
        key = bearer(request)
        if not key:
            raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})
        fresh, principal = service.cached(key)
        if not fresh:
            principal = await run_in_threadpool(service.authenticate, request.app.state.db.sessionmaker, key)
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        if not principal.can(role):
            raise HTTPException(403, f"this needs a key of role {role} or higher; yours is {principal.role}")
        return principal

    check.__name__ = f"require_{role}"
    return check


router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt `name` is refused, not dropped

    role: Literal["ingest", "viewer", "responder", "admin"]
    name: NonBlank | None = Field(None, max_length=service.NAME_MAX)


class KeyCreated(BaseModel):
    id: str
    key: str
    role: str
    name: str | None


class KeyInfo(BaseModel):
    id: str
    role: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


@router.post("", status_code=201, response_model=KeyCreated)
def create_key(body: KeyIn, request: Request, _: Principal = Depends(require("admin"))) -> KeyCreated:
    db = get_db(request)
    with db.writing() as session:
        row, key = service.create_key(session, body.role, body.name)
        return KeyCreated(id=row.id, key=key, role=row.role, name=row.name)


@router.get("/me")
def whoami(who: Principal = Depends(require("ingest"))) -> dict[str, str]:
    """The calling key's id and role (the console shows what the role allows)."""
    return {"id": who.key_id, "role": who.role}


@router.get("")
def list_keys(request: Request, _: Principal = Depends(require("admin"))) -> dict[str, list[KeyInfo]]:
    with get_db(request).session() as session:
        return {"keys": [KeyInfo.model_validate(k, from_attributes=True) for k in service.list_keys(session)]}


@router.delete("/{key_id}", response_model=KeyInfo)
def revoke_key(key_id: str, request: Request, _: Principal = Depends(require("admin"))) -> KeyInfo:
    with get_db(request).writing() as session:
        row = service.revoke_key(session, key_id)
        return KeyInfo.model_validate(row, from_attributes=True)


async def _revocation_poll(app: FastAPI, interval: float) -> None:
    """Revocations made by other processes (other hosts, the CLI) reach this one within `interval`."""
    db: Database = app.state.db
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.wait_for(asyncio.to_thread(service.poll_revocations, db.sessionmaker), interval * 5)
        except Exception as exc:  # the database is away: keys keep their last known answers
            BACKGROUND_FAILURES.labels("auth-revocation-poll").inc()
            log.debug("key revocation poll failed: %s", type(exc).__name__)


def startup(app: FastAPI) -> None:
    from fireline.api import spawn

    conf = app.state.config.section("auth") or {}
    spawn(app, _revocation_poll(app, float(conf.get("revocation_poll_s", 1.0))), "auth-revocation-poll")


def check(config: Config) -> None:
    """Fail at start, naming the key, on an `auth` key that nothing reads (a typo)."""
    check_section(config.section("auth"), {"revocation_poll_s": "positive"}, "auth")
