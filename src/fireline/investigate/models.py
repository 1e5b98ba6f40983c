"""Tables of the investigate part: hand labels of an incident's affected calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, UTCDateTime


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
