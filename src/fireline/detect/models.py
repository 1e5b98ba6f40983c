"""Tables of the detect part: canary tokens, user reports, monitor alert history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class Canary(Base):
    """A token a tenant planted in its own data: seen in another tenant's output, it is a leak."""

    __tablename__ = "detect_canaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    token: Mapped[str] = mapped_column(String(500), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))


class Report(Base):
    """A user report or feedback on one call; the text is stored PII-redacted."""

    __tablename__ = "detect_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    # Copied from the call so report monitors group like call monitors and erasure finds them.
    app: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(100))
    tools: Mapped[str | None] = mapped_column(String(1000))
    user_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (Index("ix_detect_reports_kind_at", "kind", "at"),)


class PendingReport(Base):
    """A report on a call not written yet (the gateway's writer is a moment behind): joined to the
    call when it lands, dropped after `PENDING_HOURS` if it never does."""

    __tablename__ = "detect_pending_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class MonitorAlert(Base):
    """One firing of a monitor for one group (re-fires while still firing are rows too)."""

    __tablename__ = "detect_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(600), index=True)
    monitor: Mapped[str] = mapped_column(String(100))
    group: Mapped[str] = mapped_column(String(500))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(4))
    value: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    call_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)

    __table_args__ = (Index("ix_detect_alerts_monitor_fired", "monitor", "fired_at"),)
