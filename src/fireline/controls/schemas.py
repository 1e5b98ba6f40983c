"""Request and response bodies of the control plane API (DESIGN.md CONTRACT shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.validation import Instant

Kind = Literal["kill_switch", "model_pin", "prompt_pin", "disable_tool", "read_only", "rate_limit",
               "guardrail_threshold", "block_pattern", "inject", "budget"]


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    scope: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    incident_id: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=2000)
    expires_at: Instant | None = None


class RevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)


class PlaybookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all: bool = False


class ControlOut(BaseModel):
    """A control as the API shows it. `revision` is the state revision of the latest change to
    it (its apply, or its revert); `applied_revision` and `reverted_revision` tell them apart."""

    id: str
    kind: str
    scope: dict[str, str]
    params: dict[str, Any]
    incident_id: str | None
    actor: str
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    active: bool
    revision: int
    applied_revision: int
    reverted_at: datetime | None
    reverted_by: str | None
    revert_reason: str | None
    reverted_revision: int | None
    existing: bool = False  # on apply: the same control was in force already, nothing changed
