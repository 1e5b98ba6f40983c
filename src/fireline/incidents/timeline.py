"""The append-only, hash-chained timeline.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
{"incident_id", "seq", "at", "actor", "kind", "data", "prev_hash"}; the first entry's
prev_hash is 64 zeros. The incident row keeps the chain head (length and last hash), so
a deleted tail is caught as well as an edited or removed entry in the middle.

Hashes alone only prove the chain agrees with itself: someone who can write the database can
rewrite an entry, recompute every later hash and the stored head. So each entry is also signed
(Ed25519, fireline.signing) over (incident, seq, hash): without the server's key a rewritten
entry cannot be re-signed. A truncated chain (the tail deleted, the head moved back) is still
self-consistent; it is caught against a head anchored outside the database (notifications,
export manifests and the CLI carry it): `verify(..., anchor=(seq, hash))`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline import signing
from fireline.calls.privacy import scrub
from fireline.db import utcnow
from fireline.errors import Invalid, NotFound
from fireline.incidents.models import Incident, TimelineEntry

GENESIS = "0" * 64
# Free text people and alert sources write into entries: it goes through the PII and secret pass
# before it is hashed and stored (a note quoting a customer keeps no e-mail, card or API key).
FREE_TEXT = frozenset({"title", "summary", "text", "reason", "revert_reason", "note"})


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
    entry = TimelineEntry(**next_entry(inc, kind, actor, data, at=at))
    session.add(entry)
    session.flush()
    return entry


def next_entry(inc: Incident, kind: str, actor: str, data: dict[str, Any] | None = None, *,
               at: datetime | None = None) -> dict[str, Any]:
    """The next entry of a locked incident's chain as a row of `incident_timeline`, hashed and
    signed; the incident's head moves on to it. The caller stores the row in this transaction
    (append_locked does; incidents.fired writes the rows of several incidents in one statement)."""
    at = (at or utcnow()).astimezone(UTC)
    # Microsecond precision is what both databases keep.
    payload = jsonable(scrub_free_text(data or {}))
    seq = inc.timeline_seq + 1
    prev = inc.timeline_head or GENESIS
    digest = entry_hash(inc.id, seq, at, actor, kind, payload, prev)
    inc.timeline_seq = seq
    inc.timeline_head = digest
    return {"incident_id": inc.id, "seq": seq, "at": at, "actor": actor, "kind": kind, "data": payload,
            "prev_hash": prev, "hash": digest, "sig": signing.sign(signing.timeline_message(inc.id, seq, digest))}


def scrub_free_text(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its free-text fields (FREE_TEXT, at the top level) through the privacy pass."""
    if not FREE_TEXT.intersection(data):
        return data
    return {k: scrub(v) if k in FREE_TEXT and isinstance(v, str) else v for k, v in data.items()}


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
            "prev_hash": e.prev_hash, "hash": e.hash, "sig": e.sig}


@dataclass(slots=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None
    reason: str | None
    head: tuple[int, str] | None = None  # the last entry (seq, hash): anchor it outside the database
    key_id: str | None = None  # the key the signatures were checked with

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_broken": self.first_broken,
                "reason": self.reason,
                "head": {"seq": self.head[0], "hash": self.head[1]} if self.head else None,
                "key_id": self.key_id}


def parse_anchor(text: str) -> tuple[int, str]:
    """An anchored head as written by the CLI and notifications: `SEQ:HASH`."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise Invalid("head: expected SEQ:HASH (an entry number and its 64-hex SHA-256)", field="head")
    return int(seq), digest


def verify_chain(rows: list[dict[str, Any]], incident_id: str, head: tuple[int, str] | None = None,
                 public_key: str | None = None, anchor: tuple[int, str] | None = None) -> Verification:
    """Recompute a chain given as entry dicts (from the database or an exported bundle); with
    `public_key`, every entry's signature too; with `anchor` (seq, hash) from outside the
    database, that the chain still holds that entry unchanged."""
    prev = GENESIS
    kid = signing.key_id(public_key) if public_key else None

    def broken(seq: int, why: str) -> Verification:
        return Verification(False, len(rows), seq, why, key_id=kid)

    for expected, row in enumerate(rows, start=1):
        seq = int(row["seq"])
        if seq != expected:
            return broken(expected, f"entry {expected} is missing")
        if row["prev_hash"] != prev:
            return broken(seq, f"entry {seq} does not link to entry {seq - 1}")
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
        digest = entry_hash(incident_id, seq, at, row["actor"], row["kind"], row["data"], prev)
        if digest != row["hash"]:
            return broken(seq, f"entry {seq} was altered (hash mismatch)")
        if public_key and not signing.verify(public_key, signing.timeline_message(incident_id, seq, digest),
                                             row.get("sig")):
            return broken(seq, f"entry {seq} is not signed by key {kid} (rewritten, or its signature removed)")
        prev = row["hash"]
    if head is not None:
        length, last = head
        if length != len(rows) or (length and last != prev):
            at_seq = min(length, len(rows)) + 1 if length > len(rows) else len(rows)
            return broken(at_seq, f"the chain holds {len(rows)} entries but the head records {length}")
    if anchor is not None:
        seq, digest = anchor
        if seq > len(rows):
            return broken(len(rows) + 1, f"the anchored head is entry {seq} but the chain ends at {len(rows)} "
                                         "(entries removed)")
        if rows[seq - 1]["hash"] != digest:
            return broken(seq, f"entry {seq} is not the anchored one (rewritten since)")
    last_row = (len(rows), prev) if rows else None
    return Verification(True, len(rows), None, None, head=last_row, key_id=kid)


def verify(session: Session, incident_id: str, anchor: tuple[int, str] | None = None) -> Verification:
    """The stored chain, its head, every signature (the server's key), and an optional anchor."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    rows = [{"seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "data": e.data,
             "prev_hash": e.prev_hash, "hash": e.hash, "sig": e.sig} for e in entries(session, incident_id)]
    return verify_chain(rows, incident_id, (inc.timeline_seq, inc.timeline_head), signing.public_key_b64(), anchor)
