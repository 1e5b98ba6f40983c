"""The call record as sent and as read back (DESIGN.md, CONTRACT: the core JSON shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fireline.validation import Instant, NonBlank

Status = Literal["ok", "error", "blocked", "contained"]
MAX_BATCH = 1000
INT32_MAX = 2**31 - 1  # token counts are INTEGER columns


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=64)
    content: str | list[dict[str, Any]] | None = None


class RetrievalItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, max_length=500)
    source: str | None = Field(None, max_length=500)
    text: str | None = None
    score: float | None = None


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    arguments: dict[str, Any] | str | None = None
    kind: Literal["read", "write"] | None = None
    status: str | None = Field(None, max_length=32)
    result: str | None = None
    id: str | None = Field(None, max_length=200)


class CallIn(BaseModel):
    """A call as ingested. Unknown keys are moved into `metadata`."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, min_length=1, max_length=128)
    app: NonBlank = Field(min_length=1, max_length=200)
    environment: str | None = Field(None, max_length=64)
    tenant: str | None = Field(None, max_length=200)
    session_id: str | None = Field(None, max_length=200)
    user: str | None = Field(None, max_length=500)
    model: str | None = Field(None, max_length=200)
    model_resolved: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=100)
    prompt_version: str | None = Field(None, max_length=100)
    system_prompt: str | None = None
    system_prompt_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    input: list[Message] | None = None
    output: str | None = None
    user_visible_output: str | None = None
    retrieval: list[RetrievalItem] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    guardrails: list[dict[str, Any]] = Field(default_factory=list)
    input_tokens: int | None = Field(None, ge=0, le=INT32_MAX)
    output_tokens: int | None = Field(None, ge=0, le=INT32_MAX)
    cost_usd: float | None = Field(None, ge=0)
    latency_ms: float | None = Field(None, ge=0)
    status: Status = "ok"
    trace_id: str | None = Field(None, max_length=64)
    span_id: str | None = Field(None, max_length=32)
    api_key_id: str | None = Field(None, max_length=64)  # the key that made the call (its id, never the key)
    started_at: Instant | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _content_present(self) -> CallIn:
        if self.input is None and self.output is None:
            raise ValueError("one of 'input' or 'output' is required")
        if self.model_extra:
            self.metadata = {**self.model_extra, **self.metadata}
            self.__pydantic_extra__ = {}
        return self


class Batch(BaseModel):
    calls: list[CallIn] = Field(max_length=MAX_BATCH)


class FindingOut(BaseModel):
    detector: str
    kind: str
    severity: str
    location: str
    start: int | None
    end: int | None
    entity: str | None = None
    confidence: float = 1.0
    item: int | None = None
    evidence: str = ""


class CallOut(BaseModel):
    id: str
    app: str
    environment: str | None
    tenant: str | None
    session_id: str | None
    user_pseudonym: str | None
    model: str | None
    model_resolved: str | None
    provider: str | None
    prompt_version: str | None
    system_prompt_sha256: str | None
    system_prompt: str | None = None
    input: list[dict[str, Any]] | None = None
    output: str | None = None
    user_visible_output: str | None = None
    retrieval: list[dict[str, Any]] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    guardrails: list[dict[str, Any]] = Field(default_factory=list)
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    status: str
    trace_id: str | None
    span_id: str | None
    api_key_id: str | None = None
    started_at: datetime
    ingested_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    findings: list[FindingOut] = Field(default_factory=list)
    content_view: Literal["redacted", "raw"] = "redacted"
    legal_hold: bool = False


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    ids: list[str]


class CallPage(BaseModel):
    calls: list[CallOut]
    next_cursor: str | None


class ErasureReport(BaseModel):
    user_pseudonym: str
    deleted_calls: int
    deleted_raw: int
    deleted_findings: int
    held_calls: int
    held_by: list[str]
    queued: bool = False  # held calls remain: erased when their holds are released


class RetentionReport(BaseModel):
    raw_purged: int
    calls_purged: int
    held_skipped: int
