"""Tables of investigation: replay jobs (parameters, progress, results; never the outputs) and hand
labels of an incident's affected calls (the labelling queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class Replay(Base):
    __tablename__ = "replays"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(12))  # queued | running | done | failed | cancelled
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Label(Base):
    __tablename__ = "incident_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("incident_id", "call_id", name="uq_incident_labels_incident_call"),)
