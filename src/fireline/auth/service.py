"""Create, verify and revoke API keys. Roles are ordered: ingest < viewer < responder < admin."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from fireline.auth.models import ApiKey
from fireline.db import DatabaseUnavailable, is_unavailable, utcnow
from fireline.errors import Invalid, NotFound
from fireline.validation import check_text

log = logging.getLogger("fireline.auth")

ROLES = ("ingest", "viewer", "responder", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
SEED_ID = "admin-seed"
NAME_MAX = 200  # the width of api_keys.name


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


def key_name(name: str | None) -> str | None:
    """A key's label as stored: None, or readable text of at most NAME_MAX characters (trimmed);
    anything else is Invalid naming `name`."""
    if name is None:
        return None
    name = name.strip()
    if not name:
        raise Invalid("name: must not be empty or only whitespace (leave it out for no name)", field="name")
    if len(name) > NAME_MAX:
        raise Invalid(f"name: at most {NAME_MAX} characters (this one has {len(name)})", field="name")
    check_text(name, "name")
    return name


def create_key(session: Session, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    if role not in RANK:
        raise UnknownRole(f"role must be one of {', '.join(ROLES)}", field="role")
    name = key_name(name)
    key_id = "key_" + secrets.token_hex(6)
    key = f"fl_{role}_{secrets.token_urlsafe(24)}"
    row = ApiKey(id=key_id, key_hash=hash_key(key), role=role, name=name, created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke a key. Every process stops accepting it on its next request once this commits."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyNotFound(f"no key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    _after_commit(session)
    return row


def seed_admin(session: Session, token: str) -> None:
    """Make FIRELINE_ADMIN_TOKEN a valid admin key, unless that key was revoked: a revoked seed
    key stays revoked across restarts (set a new token to seed a new admin key). A changed token
    retires the previous seed key."""
    digest = hash_key(token)
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if existing is not None:
        if existing.revoked_at is not None:
            log.warning("FIRELINE_ADMIN_TOKEN is a revoked key (%s): it stays revoked; set a new token to "
                        "seed a new admin key", existing.id)
        return
    for old in session.scalars(select(ApiKey).where(ApiKey.id.like(f"{SEED_ID}%"), ApiKey.revoked_at.is_(None))):
        old.revoked_at = utcnow()  # the token was rotated: the previous seed key stops working
    # Each seeded token gets its own row, so a revoked one can never be brought back by re-seeding.
    session.add(ApiKey(id=SEED_ID if session.get(ApiKey, SEED_ID) is None else f"{SEED_ID}-{digest[:12]}",
                       key_hash=digest, role="admin", name="FIRELINE_ADMIN_TOKEN", created_at=utcnow()))
    session.flush()
    _after_commit(session)


# ---- verified keys, cached per process -----------------------------------------------------
# The hot paths (gateway, ingest) check keys from memory. An entry is re-checked against the
# database after _CACHE_TTL; while the database is unavailable, the last known answer stands
# (fail open for keys already seen, 503 for keys never seen). Revocations reach every process
# on its next request: a committed revocation bumps the epoch file in the data directory, which
# each request compares (one stat); processes on other hosts see it through the revocation poll
# (`watch_revocations`, 1 s).
_CACHE_TTL = 60.0
_RETRY_S = 5.0  # while the database is away, a key's last known answer is re-checked this often
_cache: dict[str, tuple[float, Principal | None]] = {}
_cache_lock = threading.Lock()
_epoch_file: Path | None = None
_epoch_seen: int = 0
_revocation_mark: tuple[int, str] | None = None


def configure(data_dir: Path) -> None:
    """Where the revocation epoch lives (the app factory wires it; the CLI uses the default)."""
    global _epoch_file, _epoch_seen
    _epoch_file = data_dir / "keys.epoch"
    _epoch_seen = _epoch_stamp()


def _epoch_stamp() -> int:
    try:
        return os.stat(_epoch_file).st_mtime_ns if _epoch_file is not None else 0
    except OSError:
        return 0


def _after_commit(session: Session) -> None:
    def bump(_: Session) -> None:
        mark_stale()
        if _epoch_file is None:  # not configured (a library caller): the revocation poll carries it
            return
        try:
            _epoch_file.write_text(str(time.time_ns()))
        except OSError as exc:  # the revocation poll still carries it (within 1 s)
            log.warning("could not write the key epoch file: %s", exc)

    event.listen(session, "after_commit", bump, once=True)


def mark_stale() -> None:
    """Every cached key is re-checked on its next use (the answer stays as the fallback)."""
    with _cache_lock:
        for digest, (_, principal) in list(_cache.items()):
            _cache[digest] = (-_CACHE_TTL, principal)


def _check_epoch() -> None:
    global _epoch_seen
    if _epoch_file is None:
        return
    stamp = _epoch_stamp()
    if stamp != _epoch_seen:
        _epoch_seen = stamp
        mark_stale()


def cached(key: str) -> tuple[bool, Principal | None]:
    """(fresh, principal) from memory only: no database call."""
    _check_epoch()
    hit = _cache.get(hash_key(key))
    if hit is not None and time.monotonic() - hit[0] < _CACHE_TTL:
        return True, hit[1]
    return False, hit[1] if hit is not None else None


def authenticate(session_factory: object, key: str) -> Principal | None:
    """The key's principal (None: unknown or revoked). Uses the database at most once per TTL;
    DatabaseUnavailable only when the database is away and the key was never seen."""
    _check_epoch()
    digest = hash_key(key)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is not None and now - hit[0] < _CACHE_TTL:
        return hit[1]
    try:
        with session_factory() as session:  # type: ignore[operator]
            row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            principal = Principal(row.id, row.role) if row is not None and row.revoked_at is None else None
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        if hit is not None:  # last known good: the database being away revokes nothing
            with _cache_lock:  # and ask again in a few seconds, not on every request
                _cache[digest] = (now - _CACHE_TTL + _RETRY_S, hit[1])
            return hit[1]
        raise DatabaseUnavailable("the database is unavailable and this key was not seen before; retry shortly") \
            from exc
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now, principal)
    return principal


def poll_revocations(session_factory: object) -> bool:
    """Compare the database's revocation mark with the last one seen; on a change, every cached
    key is re-checked. True when something changed. Raises when the database is away."""
    global _revocation_mark
    with session_factory() as session:  # type: ignore[operator]
        count, latest = session.execute(select(func.count(), func.max(ApiKey.revoked_at))
                                        .where(ApiKey.revoked_at.is_not(None))).one()
    mark = (int(count or 0), str(latest))
    changed = mark != _revocation_mark  # the first poll re-checks whatever was cached before it
    _revocation_mark = mark
    if changed:
        mark_stale()
    return changed


def forget_cache() -> None:
    global _revocation_mark
    with _cache_lock:
        _cache.clear()
    _revocation_mark = None
