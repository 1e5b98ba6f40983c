"""Tables of the comms part: the delivery outbox, updates, per-incident comms state and the
disclosure obligations. Incident ids are plain strings (no foreign keys across parts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class Delivery(Base):
    """One message to one channel: pending until sent, retried with backoff, failed for good."""

    __tablename__ = "comms_deliveries"
    __table_args__ = (Index("ix_comms_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    event: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(100))
    channel_type: Mapped[str] = mapped_column(String(20))
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the rendered message (channel-neutral)
    status: Mapped[str] = mapped_column(String(12))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class Update(Base):
    """An update posted on an incident; public ones appear on the status page."""

    __tablename__ = "comms_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(String(20))  # the public phase: investigating, ...
    # What a public update declares for the incident's components (status page by decision):
    # operational | degraded | partial_outage | major_outage.
    impact: Mapped[str | None] = mapped_column(String(20))


class IncidentComms(Base):
    """Comms state of one incident: high risk (GDPR Art. 34), the last cadence reminder."""

    __tablename__ = "comms_incidents"

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    high_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    high_risk_by: Mapped[str | None] = mapped_column(String(200))
    high_risk_reason: Mapped[str | None] = mapped_column(Text)
    likely_consequences: Mapped[str | None] = mapped_column(Text)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A responder's answer when the record cannot tell (an incident without calls): is personal data
    # involved? None: not asked yet. True opens the Art. 33 clock, False settles the question.
    personal_data: Mapped[bool | None] = mapped_column(Boolean)
    personal_data_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    personal_data_by: Mapped[str | None] = mapped_column(String(200))
    personal_data_reason: Mapped[str | None] = mapped_column(Text)


class Obligation(Base):
    """A disclosure duty with a deadline (GDPR Art. 33 to the authority, Art. 34 to individuals)."""

    __tablename__ = "comms_obligations"
    __table_args__ = (UniqueConstraint("incident_id", "kind", name="uq_comms_obligations_incident_kind"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # gdpr_art33 | gdpr_art34
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    basis: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # why it was created
    status: Mapped[str] = mapped_column(String(12))  # open | met
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met_by: Mapped[str | None] = mapped_column(String(200))
    met_note: Mapped[str | None] = mapped_column(Text)
    reminders_sent: Mapped[list[str]] = mapped_column(JSONType, default=list)


class StatusComponent(Base):
    """A component's public state set by hand (`fireline status set`): it holds until set again."""

    __tablename__ = "comms_status_components"

    component: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # operational | degraded | partial_outage | major_outage
    message: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
