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

import orjson
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from fireline import localstate
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
# The keys this data directory's processes found valid, for a server that starts while the
# database is away (`keys.snapshot`: the key's SHA-256, as the api_keys table holds it, its id and
# role; never the key). Loaded as stale cache entries: the database, when it answers, decides.
_snapshot_file: Path | None = None
_kept: set[str] = set()


def configure(data_dir: Path) -> None:
    """Where the revocation epoch and the key snapshot live (the app factory wires it; the CLI uses
    the default); the snapshot's keys become last known answers."""
    global _epoch_file, _epoch_seen, _snapshot_file
    _epoch_file = data_dir / "keys.epoch"
    _epoch_seen = _epoch_stamp()
    _snapshot_file = data_dir / "keys.snapshot"
    known = _read_snapshot(_snapshot_file)
    _kept.update(known)
    with _cache_lock:
        for digest, (key_id, role) in known.items():
            if digest not in _cache and role in RANK:
                _cache[digest] = (-_CACHE_TTL, Principal(key_id, role))


def _read_snapshot(path: Path) -> dict[str, tuple[str, str]]:
    try:
        data = orjson.loads(localstate.read(path) or b"{}")
        return {str(d): (str(k[0]), str(k[1])) for d, k in (data.get("keys") or {}).items()}
    except (OSError, orjson.JSONDecodeError, AttributeError, TypeError, ValueError, IndexError) as exc:
        log.warning("key snapshot %s cannot be read (%s): keys are checked against the database only",
                    path, type(exc).__name__)
        return {}


def _keep(digest: str, principal: Principal | None) -> None:
    """Record a key's answer from the database in the snapshot (None: no longer valid)."""
    path = _snapshot_file
    if path is None or (principal is None and digest not in _kept):
        return
    try:
        with localstate.locked(path):  # the workers of a server share the file
            known = _read_snapshot(path)
            if principal is None:
                known.pop(digest, None)
                _kept.discard(digest)
            else:
                known[digest] = (principal.key_id, principal.role)
                _kept.add(digest)
            localstate.write_atomic(path, orjson.dumps({"version": 1, "keys": known}))
    except OSError as exc:
        log.warning("could not write the key snapshot: %s", type(exc).__name__)


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
    if (principal is not None) != (digest in _kept) or (hit is not None and hit[1] is not None
                                                       and hit[1] != principal):
        _keep(digest, principal)  # new, revoked or changed: rare, so the file is rewritten then only
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
        if _kept:  # a revoked key leaves the snapshot now, not at its next use
            with session_factory() as session:  # type: ignore[operator]
                revoked = list(session.scalars(select(ApiKey.key_hash).where(
                    ApiKey.revoked_at.is_not(None), ApiKey.key_hash.in_(sorted(_kept)))))
            for digest in revoked:
                _keep(digest, None)
    return changed


def forget_cache() -> None:
    global _revocation_mark
    with _cache_lock:
        _cache.clear()
    _kept.clear()
    _revocation_mark = None
