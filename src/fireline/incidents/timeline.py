"""The append-only, hash-chained timeline.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
{"incident_id", "seq", "at", "actor", "kind", "data", "prev_hash"}; the first entry's
prev_hash is 64 zeros. The incident row keeps the chain head (length and last hash), so
a deleted tail is caught as well as an edited or removed entry in the middle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.db import utcnow
from fireline.errors import NotFound
from fireline.incidents.models import Incident, TimelineEntry

GENESIS = "0" * 64


class IncidentNotFound(NotFound):
    pass


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, datetimes as ISO 8601 UTC."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def jsonable(value: Any) -> Any:
    """The value as plain JSON types (what the database gives back), so hashes survive a round trip."""
    return orjson.loads(canonical(value))


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(incident_id: str, seq: int, at: datetime, actor: str, kind: str, data: Any,
               prev_hash: str) -> str:
    body = {"incident_id": incident_id, "seq": seq, "at": stamp(at), "actor": actor, "kind": kind,
            "data": data, "prev_hash": prev_hash}
    return hashlib.sha256(canonical(body)).hexdigest()


def lock_incident(session: Session, incident_id: str) -> Incident:
    """The incident row, locked for update (PostgreSQL) so appends to one chain are serialised."""
    inc = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    if inc is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    return inc


def append_timeline(session: Session, incident_id: str, kind: str, actor: str,
                    data: dict[str, Any] | None = None, *, at: datetime | None = None) -> TimelineEntry:
    """Append one entry to an incident's chain (in the caller's transaction)."""
    inc = lock_incident(session, incident_id)
    return append_locked(session, inc, kind, actor, data, at=at)


def append_locked(session: Session, inc: Incident, kind: str, actor: str,
                  data: dict[str, Any] | None = None, *, at: datetime | None = None) -> TimelineEntry:
    at = (at or utcnow()).astimezone(UTC)
    # Microsecond precision is what both databases keep.
    payload = jsonable(data or {})
    seq = inc.timeline_seq + 1
    prev = inc.timeline_head or GENESIS
    digest = entry_hash(inc.id, seq, at, actor, kind, payload, prev)
    entry = TimelineEntry(incident_id=inc.id, seq=seq, at=at, actor=actor, kind=kind, data=payload,
                          prev_hash=prev, hash=digest)
    session.add(entry)
    inc.timeline_seq = seq
    inc.timeline_head = digest
    session.flush()
    return entry


def entries(session: Session, incident_id: str, *, after: int = 0, limit: int | None = None,
            kind: str | None = None) -> list[TimelineEntry]:
    stmt = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id, TimelineEntry.seq > after)
    if kind:
        stmt = stmt.where(TimelineEntry.kind == kind)
    stmt = stmt.order_by(TimelineEntry.seq)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def entry_json(e: TimelineEntry) -> dict[str, Any]:
    return {"seq": e.seq, "at": stamp(e.at), "actor": e.actor, "kind": e.kind, "data": e.data,
            "prev_hash": e.prev_hash, "hash": e.hash}


@dataclass(slots=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_broken": self.first_broken,
                "reason": self.reason}


def verify_chain(rows: list[dict[str, Any]], incident_id: str, head: tuple[int, str] | None = None
                 ) -> Verification:
    """Recompute a chain given as entry dicts (from the database or an exported bundle)."""
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        seq = int(row["seq"])
        if seq != expected:
            return Verification(False, len(rows), expected, f"entry {expected} is missing")
        if row["prev_hash"] != prev:
            return Verification(False, len(rows), seq, f"entry {seq} does not link to entry {seq - 1}")
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
        digest = entry_hash(incident_id, seq, at, row["actor"], row["kind"], row["data"], prev)
        if digest != row["hash"]:
            return Verification(False, len(rows), seq, f"entry {seq} was altered (hash mismatch)")
        prev = row["hash"]
    if head is not None:
        length, last = head
        if length != len(rows) or (length and last != prev):
            broken = min(length, len(rows)) + 1 if length > len(rows) else len(rows)
            return Verification(False, len(rows), broken,
                                f"the chain holds {len(rows)} entries but the head records {length}")
    return Verification(True, len(rows), None, None)


def verify(session: Session, incident_id: str) -> Verification:
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    rows = [{"seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "data": e.data,
             "prev_hash": e.prev_hash, "hash": e.hash} for e in entries(session, incident_id)]
    return verify_chain(rows, incident_id, (inc.timeline_seq, inc.timeline_head))
