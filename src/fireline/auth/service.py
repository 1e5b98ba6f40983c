"""Create, verify and revoke API keys. Roles are ordered: ingest < viewer < responder < admin."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.auth.models import ApiKey
from fireline.db import utcnow
from fireline.errors import Invalid, NotFound

ROLES = ("ingest", "viewer", "responder", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
SEED_ID = "admin-seed"


class UnknownRole(Invalid):
    pass


class KeyNotFound(NotFound):
    pass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id is the actor recorded in timelines and access logs."""

    key_id: str
    role: str

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    if role not in RANK:
        raise UnknownRole(f"role must be one of {', '.join(ROLES)}", field="role")
    key_id = "key_" + secrets.token_hex(6)
    key = f"fl_{role}_{secrets.token_urlsafe(24)}"
    row = ApiKey(id=key_id, key_hash=hash_key(key), role=role, name=name, created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyNotFound(f"no key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    _cache.clear()
    return row


def seed_admin(session: Session, token: str) -> None:
    """Make FIRELINE_ADMIN_TOKEN a valid admin key (idempotent; a changed token replaces the old)."""
    row = session.get(ApiKey, SEED_ID)
    digest = hash_key(token)
    if row is None:
        session.add(ApiKey(id=SEED_ID, key_hash=digest, role="admin", name="FIRELINE_ADMIN_TOKEN",
                           created_at=utcnow()))
    elif row.key_hash != digest or row.revoked_at is not None:
        row.key_hash, row.revoked_at = digest, None
    session.flush()
    _cache.clear()


# Verified keys are cached briefly so the hot path (gateway, ingest) skips the database.
_CACHE_TTL = 5.0
_cache: dict[str, tuple[float, Principal | None]] = {}
_cache_lock = threading.Lock()


def authenticate(session_factory: object, key: str) -> Principal | None:
    digest = hash_key(key)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is not None and now - hit[0] < _CACHE_TTL:
        return hit[1]
    with session_factory() as session:  # type: ignore[operator]
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        principal = Principal(row.id, row.role) if row is not None and row.revoked_at is None else None
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now, principal)
    return principal


def forget_cache() -> None:
    _cache.clear()
