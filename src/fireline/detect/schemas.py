"""Request and response bodies of the detect part's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from fireline.validation import Instant, NonBlank

ReportKind = Literal["harmful", "wrong", "leak", "other", "thumbs_down"]


class CanaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: NonBlank = Field(min_length=1, max_length=200)
    token: str = Field(min_length=8, max_length=500)


class CanaryOut(BaseModel):
    id: int
    tenant: str
    token: str  # the full token for responders and above, masked for viewers
    masked: bool
    created_at: datetime


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(min_length=1, max_length=128)
    kind: ReportKind
    text: str | None = Field(None, max_length=10_000)
    # When the user gave the feedback (backfilled history); default now. Needs a timezone.
    at: Instant | None = Field(None, validation_alias=AliasChoices("at", "timestamp"))


class ReportOut(BaseModel):
    id: str
    call_id: str
    kind: str
    text: str
    at: datetime
    app: str | None
    tenant: str | None
    status: Literal["stored", "pending"] = "stored"  # pending: the call is not written yet


class MonitorGroup(BaseModel):
    group: str
    value: float | None
    baseline: float | None
    ratio: float | None
    volume: int
    state: Literal["ok", "firing"]
    last_fired: datetime | None
    clear_since: datetime | None = None  # firing, but its condition is clear since (it resolves after recover_after)


class MonitorOut(BaseModel):
    name: str
    definition: dict[str, Any]
    alerts_fired: int
    group_count: int
    groups: list[MonitorGroup]


class AlertOut(BaseModel):
    id: int
    dedup_key: str
    monitor: str
    group: str
    fired_at: datetime
    type: str
    severity: str
    value: float
    baseline: float | None
    call_ids: list[str]
