"""Canary tokens: registered per tenant, cached in memory for the canary detector.

The detector asks `CanaryCache.tokens()` on every call; that returns the same dict object
until a token is added or removed (here, or on another replica: `refresh` runs at startup,
after every change and every few seconds on the monitors clock), so the hot path never
touches the database.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.db import Database, utcnow
from fireline.detect.models import Canary
from fireline.errors import Conflict, Invalid, NotFound

MIN_TOKEN = 8
MAX_TOKEN = 500


def mask(token: str) -> str:
    """Enough to recognise a token, not enough to plant or search for it."""
    keep = 2 if len(token) < 12 else 4
    return f"{token[:keep]}…{token[-keep:]} ({len(token)} chars)"


class CanaryCache:
    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def tokens(self) -> dict[str, str]:
        """token -> owning tenant (the canary detector's provider)."""
        return self._tokens

    def refresh(self, db: Database) -> None:
        with db.session() as session:
            current = {c.token: c.tenant for c in session.scalars(select(Canary))}
        with self._lock:
            if current != self._tokens:
                self._tokens = current  # swapped whole: readers never see a half-built dict


def validate(tenant: object, token: object) -> tuple[str, str]:
    if not isinstance(tenant, str) or not tenant.strip():
        raise Invalid("tenant: a non-empty string is required", field="tenant")
    if len(tenant) > 200:
        raise Invalid("tenant: at most 200 characters", field="tenant")
    if not isinstance(token, str):
        raise Invalid("token: a string is required", field="token")
    token = token.strip()
    if len(token) < MIN_TOKEN:
        raise Invalid(f"token: at least {MIN_TOKEN} characters (short tokens match ordinary text)", field="token")
    if len(token) > MAX_TOKEN or any(ch.isspace() for ch in token):
        raise Invalid(f"token: one word of at most {MAX_TOKEN} characters", field="token")
    return tenant.strip(), token


def register(session: Session, tenant: str, token: str, *, actor: str) -> tuple[Canary, bool]:
    """(canary, created). Re-registering a tenant's own token is a no-op; another tenant's is a conflict."""
    existing = session.scalar(select(Canary).where(Canary.token == token))
    if existing is not None:
        if existing.tenant != tenant:
            raise Conflict("token: already registered for another tenant", field="token")
        return existing, False
    canary = Canary(tenant=tenant, token=token, created_at=utcnow(), created_by=actor)
    session.add(canary)
    session.flush()
    return canary, True


def listing(session: Session, tenant: str | None = None) -> list[Canary]:
    stmt = select(Canary).order_by(Canary.id)
    if tenant:
        stmt = stmt.where(Canary.tenant == tenant)
    return list(session.scalars(stmt))


def remove(session: Session, canary_id: int) -> None:
    canary = session.get(Canary, canary_id)
    if canary is None:
        raise NotFound(f"no canary with id {canary_id}")
    session.delete(canary)
