"""Tables of the control plane: every control ever applied, and the state revision counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class ControlRow(Base):
    __tablename__ = "controls"
    __table_args__ = (Index("ix_controls_active", "reverted_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[dict[str, Any]] = mapped_column(JSONType)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revision: Mapped[int] = mapped_column(BigInteger)  # the state revision that applied it
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reverted_by: Mapped[str | None] = mapped_column(String(64))
    revert_reason: Mapped[str | None] = mapped_column(Text)
    reverted_revision: Mapped[int | None] = mapped_column(BigInteger)


class ControlRevision(Base):
    """A single row (id 1): the monotonic revision, bumped in the transaction of each change."""

    __tablename__ = "control_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
