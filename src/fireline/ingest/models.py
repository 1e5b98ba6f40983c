"""Tables of the ingest part: change markers (deploys of models, prompts, configs, ...) and GenAI
events that arrived over OTLP logs before the span they belong to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class Change(Base):
    __tablename__ = "changes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    app: Mapped[str] = mapped_column(String(200))
    from_version: Mapped[str | None] = mapped_column(String(500))
    to_version: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_changes_app_at", "app", "at"),)


class PendingEvents(Base):
    """GenAI events (OTLP log records) waiting for their span: content, so encrypted like raw
    calls; joined into the call when the span arrives, purged after `ingest.otlp_event_ttl_s`."""

    __tablename__ = "otlp_pending_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
