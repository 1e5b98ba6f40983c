"""Tables of the incidents part: incidents, their dedup keys, linked calls, the hash-chained
timeline, and the content-addressed evidence store (blobs and snapshot manifests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(4), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    playbook: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(40))  # "declared" or the first alert's source
    dedup_key: Mapped[str | None] = mapped_column(String(300))
    commander: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    scope: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # apps, tenants, models, ...
    apps: Mapped[str] = mapped_column(String(1000), default="")  # space-separated, for filtering
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contain_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contain_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The chain head: length and last hash, so a truncated timeline is caught too.
    timeline_seq: Mapped[int] = mapped_column(Integer, default=0)
    timeline_head: Mapped[str] = mapped_column(String(64), default="")
    changed_seq: Mapped[int] = mapped_column(Integer, default=0)  # last alert/link/scope change
    snapshot_seq: Mapped[int] = mapped_column(Integer, default=0)  # timeline seq of the last snapshot
    # A fire drill's incident: notified to drill channels only, no disclosure clock, no public status,
    # its own metrics (never in MTTA/MTTR).
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    merged_into: Mapped[str | None] = mapped_column(String(40))  # set when merged into another incident
    # Where the rate changed (fireline.detect.onset): set from the alert that opened the incident,
    # or placed from the prompt log on first use; `onset` holds the test's evidence.
    onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    onset: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class IncidentDedup(Base):
    """One row per dedup key of an active incident: the unique key makes racing alerts open one."""

    __tablename__ = "incident_dedup"

    dedup_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentLink(Base):
    """One link between two incidents, read from both sides: "related" (a responder linked them),
    "merged" (incident_id was merged into other_id), "repeat" (incident_id repeats other_id)."""

    __tablename__ = "incident_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    other_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("incident_id", "other_id", "kind", name="uq_incident_links_pair_kind"),)


class IncidentCall(Base):
    __tablename__ = "incident_calls"

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TimelineEntry(Base):
    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sig: Mapped[str | None] = mapped_column(String(200))  # Ed25519 over (incident, seq, hash): fireline.signing

    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_timeline_incident_seq"),)


class EvidenceBlob(Base):
    """Content-addressed: the primary key is the SHA-256 of `data`."""

    __tablename__ = "evidence_blobs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Snapshot(Base):
    """A frozen evidence set; its id is the SHA-256 of its canonical manifest."""

    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    manifest: Mapped[str] = mapped_column(Text)  # the canonical JSON whose digest is the id
    calls: Mapped[int] = mapped_column(Integer, default=0)


class SnapshotCall(Base):
    """Which snapshot member holds which call, so erasure can find a person's frozen copies."""

    __tablename__ = "snapshot_calls"

    snapshot_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_pseudonym: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_snapshot_calls_user", "user_pseudonym"),)


class IncidentScopeValue(Base):
    """Every distinct value of one scope dimension of an incident, kept once that dimension outgrew
    the sample the incident row holds (incidents.scope): what tells a new value from a known one."""

    __tablename__ = "incident_scope_values"

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dim: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
