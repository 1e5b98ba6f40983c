"""Tables of the prompt log. Redacted content is searchable; raw content is encrypted apart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from fireline.db import Base, UTCDateTime


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    app: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str | None] = mapped_column(String(64))
    tenant: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    user_pseudonym: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    model_resolved: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(100))
    system_prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ok")
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    span_id: Mapped[str | None] = mapped_column(String(32))
    tools: Mapped[str | None] = mapped_column(String(1000))  # space-separated tool names called
    api_key_id: Mapped[str | None] = mapped_column(String(64))  # the API key that made the call (gateway)
    # Distribution features measured at ingest (detect.features), so monitors rebuild their histograms:
    # a language code, a script name, a topic bucket number. No content.
    output_language: Mapped[str | None] = mapped_column(String(16))
    output_script: Mapped[str | None] = mapped_column(String(16))
    input_language: Mapped[str | None] = mapped_column(String(16))
    input_topic: Mapped[int | None] = mapped_column(Integer)
    # Redacted content as one JSON document: what viewers see and what text search scans.
    content: Mapped[str] = mapped_column(Text)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    has_raw: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_calls_app_started", "app", "started_at"),
        Index("ix_calls_tenant_started", "tenant", "started_at"),
        Index("ix_calls_user_started", "user_pseudonym", "started_at"),
        Index("ix_calls_session", "session_id"),
        Index("ix_calls_trace", "trace_id"),
        Index("ix_calls_api_key_started", "api_key_id", "started_at"),
    )


class CallRaw(Base):
    """The unredacted content, AES-GCM encrypted; purged after raw_retention_days."""

    __tablename__ = "calls_raw"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class CallFinding(Base):
    """One detector finding on one call; denormalised keys make blast radius a single scan."""

    __tablename__ = "call_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    app: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str | None] = mapped_column(String(200))
    detector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(4))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    location: Mapped[str] = mapped_column(String(16))
    item: Mapped[int | None] = mapped_column(Integer)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text, default="")

    # Blast radius reads only this index: the signature scan never touches the findings table.
    __table_args__ = (
        Index("ix_call_findings_signature", "detector", "kind", "started_at", "app", "tenant", "call_id"),
    )


class RawAccess(Base):
    """Every read of raw content: who, when, which call, why. Kept after the call is gone."""

    __tablename__ = "raw_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)

    @validates("reason")
    def _scrub_reason(self, _key: str, value: str | None) -> str | None:
        """A reason is free text ("customer Jane Roe complained"): through the privacy pass."""
        from fireline.calls.privacy import scrub

        return scrub(value) if value else value


class LegalHold(Base):
    """A call held by an incident: exempt from retention and erasure until released."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    holder: Mapped[str] = mapped_column(String(64), index=True)  # incident id
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    placed_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64))


class Erasure(Base):
    """An erasure request carried out: for the data-protection record, without the content."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    deleted_calls: Mapped[int] = mapped_column(Integer)
    held_calls: Mapped[int] = mapped_column(Integer)
    holders: Mapped[str] = mapped_column(Text, default="")


class ErasureRequest(Base):
    """An erasure that legal hold blocked in part: queued, and carried out when the holds on its
    calls are released (`done_at`). The Erasure rows record each run."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(64))
    holders: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DeadLetter(Base):
    """A call that could not be stored (the rest of its batch was): why, and the record itself
    AES-GCM encrypted like calls_raw, so nothing readable sits in a clear column. Purged with raw
    content (privacy.raw_retention_days) and by erasure of its subject."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))  # api, gateway, otlp
    call_id: Mapped[str | None] = mapped_column(String(128), index=True)
    user_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # prepare | store
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
