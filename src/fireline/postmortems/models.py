"""Tables of the post-mortem part: root-cause record, action items, completion."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.db import Base, JSONType, UTCDateTime


class RootCause(Base):
    __tablename__ = "pm_root_causes"

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str | None] = mapped_column(String(20))  # model | prompt | data | config | infra
    factors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    finding: Mapped[str | None] = mapped_column(Text)  # the blameless finding, when written by hand
    whys: Mapped[list[str] | None] = mapped_column(JSONType)  # the 5 whys, in order: why 1 first
    remediation: Mapped[list[str] | None] = mapped_column(JSONType)  # steps taken / to take
    regression_test: Mapped[str | None] = mapped_column(String(200))  # eval suite id (the lock)
    prevention: Mapped[str | None] = mapped_column(Text)  # how recurrence is prevented
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class ActionItem(Base):
    __tablename__ = "pm_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(200))


class Postmortem(Base):
    """Set when the post-mortem is published (completed); before that it can be overdue."""

    __tablename__ = "pm_postmortems"

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_by: Mapped[str] = mapped_column(String(200))
