"""Ingest and read calls: the privacy pass, detectors, one batched write, then an event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session
from ulid import ULID

from fireline import outbox
from fireline.bulk import BulkInsert
from fireline.calls import dead_letters, privacy
from fireline.calls.models import Call, CallFinding, CallRaw, RawAccess
from fireline.calls.schemas import CallIn, CallOut, FindingOut
from fireline.db import Database, DatabaseUnavailable, is_unavailable, utcnow
from fireline.errors import NotFound
from fireline.metrics import CALL_DUPLICATES, CALLS_INGESTED, INGEST_SECONDS

CONTENT_KEYS = ("system_prompt", "input", "output", "user_visible_output", "retrieval", "tool_calls",
                "guardrails", "metadata")


class CallNotFound(NotFound):
    pass


@dataclass(slots=True)
class PreparedCall:
    """A call ready to store: the row, the raw and redacted content, and its findings."""

    row: dict[str, Any]
    raw: dict[str, Any]
    redacted: dict[str, Any]
    redactor: privacy.Redactor
    raw_blob: bytes
    findings: list[dict[str, Any]] = field(default_factory=list)
    outbox_id: int | None = None  # the "calls.ingested" outbox entry written with it
    # What processors measured for later consumers (the detect part's quality profile), never stored.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.row["id"])


def prepare(call: CallIn, now: datetime) -> PreparedCall:
    raw = {
        "system_prompt": call.system_prompt,
        "input": [m.model_dump(exclude_none=True) for m in call.input] if call.input is not None else None,
        "output": call.output,
        "user_visible_output": call.user_visible_output,
        "retrieval": [d.model_dump(exclude_none=True) for d in call.retrieval],
        "tool_calls": [t.model_dump(exclude_none=True) for t in call.tool_calls],
        "guardrails": call.guardrails,
        "metadata": call.metadata,
    }
    tools = call.metadata.get("tools")
    if isinstance(tools, list) and tools and "tools_sha256" not in call.metadata:
        # Tool definitions (names, schemas, descriptions) are logged with the call and hashed, so a
        # changed definition is a change marker (detect.changes) and a searchable version.
        call.metadata["tools_sha256"] = hashlib.sha256(
            orjson.dumps(tools, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # Identities in metadata (enduser.id, user_id, e-mail keys) are stored as pseudonyms; the first
    # is the call's user when it names none, so erasure and the blast radius find the call.
    metadata, identity = privacy.pseudonymise_identities(call.metadata)
    redacted, red = privacy.redact_content({**raw, "metadata": metadata})
    user = call.user or identity
    sp_hash = call.system_prompt_sha256
    if call.system_prompt is not None:
        sp_hash = hashlib.sha256(call.system_prompt.encode()).hexdigest()
    started = call.started_at or now
    row = {
        "id": call.id or str(ULID()),
        "started_at": started,
        "ingested_at": now,
        "app": call.app,
        "environment": call.environment,
        "tenant": call.tenant,
        "session_id": call.session_id,
        "user_pseudonym": privacy.pseudonym(user) if user else None,
        "model": call.model,
        "model_resolved": call.model_resolved or call.model,
        "provider": call.provider,
        "prompt_version": call.prompt_version,
        "system_prompt_sha256": sp_hash,
        "status": call.status,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": call.cost_usd,
        "latency_ms": call.latency_ms,
        "trace_id": call.trace_id,
        "span_id": call.span_id,
        "tools": " ".join(t.name for t in call.tool_calls)[:1000] or None,
        "api_key_id": call.api_key_id,
        "output_language": None, "output_script": None, "input_language": None, "input_topic": None,
        "content": orjson.dumps(redacted).decode(),
        "finding_count": 0,
        "has_raw": True,
        "legal_hold": False,
    }
    # Raw content is always encrypted, whatever the pass found: what it missed stays unreadable too.
    return PreparedCall(row=row, raw=raw, redacted=redacted, redactor=red, raw_blob=privacy.encrypt(raw))


@dataclass(slots=True)
class IngestOutcome:
    ids: list[str]
    inserted: list[PreparedCall]
    duplicates: int
    dead: list[dead_letters.Dead] = field(default_factory=list)


def _pseudonym_of(user: str | None) -> str | None:
    try:
        return privacy.pseudonym(user) if user else None
    except (UnicodeError, ValueError):
        return None


def _record_of(call: CallIn) -> dict[str, Any] | None:
    try:
        return call.model_dump(mode="json", exclude_none=True)
    except (TypeError, ValueError):
        return None


def ingest(db: Database, calls: Sequence[CallIn], *, source: str = "api") -> IngestOutcome:
    """Validate-free fast path: `calls` are already validated. Durable when this returns.

    One transaction for the batch. If the database refuses it (not an outage), the batch is
    retried row by row and each row it still refuses is dead-lettered with its reason, so one
    bad record never costs the others. DatabaseUnavailable when the database is away (nothing
    is lost: re-sending is idempotent by call id)."""
    return ingest_prepared(db, prepare_batch(calls, utcnow()), source=source)


@dataclass(slots=True)
class PreparedBatch:
    """What `prepare_batch` made of a batch (picklable: the gateway prepares in another process)."""

    calls: list[PreparedCall]
    ids: list[str]
    dead: list[dead_letters.Dead]


def prepare_batch(calls: Sequence[CallIn], now: datetime) -> PreparedBatch:
    """The privacy pass and encryption of a batch, without the database or any event: a record
    that cannot be prepared is a dead letter, the first of repeated ids wins."""
    prepared: dict[str, PreparedCall] = {}
    ids: list[str] = []
    dead: list[dead_letters.Dead] = []
    for call in calls:
        try:
            p = prepare(call, now)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            dead.append(dead_letters.Dead(call.id, dead_letters.failure_reason(exc), "prepare", _record_of(call),
                                          _pseudonym_of(call.user)))
            continue
        ids.append(p.id)
        prepared.setdefault(p.id, p)  # the first of repeated ids in one batch wins
    return PreparedBatch(list(prepared.values()), ids, dead)


def ingest_prepared(db: Database, prepared: PreparedBatch, *, source: str = "api",
                    publish: bool = True) -> IngestOutcome:
    """Detectors ("calls.prepared"), the write and "calls.ingested" for a prepared batch (see `ingest`).
    `publish=False`: not "calls.ingested" once committed; the caller passes the outcome to
    `publish_ingested` (ingest's group commit answers its requests in between)."""
    batch, ids, dead = prepared.calls, prepared.ids, list(prepared.dead)
    bus = db.bus
    # Before the write: the detect part's detectors add findings ("calls.prepared", wired in fireline.wiring).
    bus.publish("calls.prepared", calls=batch, source=source)
    for p in batch:
        p.row["finding_count"] = len(p.findings)
    inserted: list[PreparedCall] = []
    try:
        with INGEST_SECONDS.labels(source).time():
            _store_or_split(db, batch, inserted, dead)
        dead_letters.record(db, dead, source=source)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        _published(db, inserted, source)
        raise DatabaseUnavailable("the database is unavailable; retry shortly") from exc
    if publish:
        _published(db, inserted, source)
    refused = {d.call_id for d in dead}
    duplicates = len(ids) - sum(1 for i in ids if i in refused) - len(inserted)
    CALL_DUPLICATES.inc(duplicates)
    return IngestOutcome(ids=ids, inserted=inserted, duplicates=duplicates, dead=dead)


def _store_or_split(db: Database, batch: list[PreparedCall], inserted: list[PreparedCall],
                    dead: list[dead_letters.Dead]) -> None:
    """Store the batch in one transaction; if the database refuses it (not an outage), retry
    row by row and dead-letter each row it still refuses. Outages propagate."""
    try:
        inserted += store(db, batch)
        return
    except Exception as exc:
        if is_unavailable(exc):
            raise
        if len(batch) == 1:
            dead.append(_dead(batch[0], exc))
            return
    for p in batch:
        try:
            inserted += store(db, [p])
        except Exception as row_exc:
            if is_unavailable(row_exc):
                raise
            dead.append(_dead(p, row_exc))


def _dead(p: PreparedCall, error: BaseException) -> dead_letters.Dead:
    record = {k: v for k, v in p.raw.items() if v is not None} | {"id": p.id, "app": p.row["app"]}
    return dead_letters.Dead(p.id, dead_letters.failure_reason(error), "store", record, p.row.get("user_pseudonym"))


def _published(db: Database, inserted: list[PreparedCall], source: str) -> None:
    if not inserted:
        return
    CALLS_INGESTED.labels(source).inc(len(inserted))
    published(db, inserted, source)


def publish_ingested(db: Database, outcome: IngestOutcome, source: str = "api") -> None:
    """"calls.ingested" for what `ingest_prepared(..., publish=False)` committed."""
    _published(db, outcome.inserted, source)


def published(db: Database, inserted: list[PreparedCall], source: str) -> None:
    """After the commit: "calls.ingested" for the monitors, once for all the calls (of one or several
    commits, each with its outbox entry, see store): the monitors' work is per batch as much as per
    call. The outbox hears of each entry as of the whole."""
    entries = [e for e in dict.fromkeys(p.outbox_id for p in inserted) if e is not None]
    db.bus.publish_durable("calls.ingested", entries or None, calls=inserted, source=source)


# One statement per table per batch, whatever its size (fireline.bulk.BulkInsert).
_NEW_CALLS = BulkInsert(Call.__table__, skip_existing="id", returning=("id",))  # type: ignore[arg-type]
_RAW = BulkInsert(CallRaw.__table__)  # type: ignore[arg-type]
_FINDINGS = BulkInsert(CallFinding.__table__)  # type: ignore[arg-type]


def store(db: Database, batch: list[PreparedCall]) -> list[PreparedCall]:
    """One transaction: calls (ON CONFLICT DO NOTHING), then raw and findings of the new ones, and
    the "calls.ingested" outbox entry naming them, so the monitors see them even after a crash."""
    if not batch:
        return []
    # Core statements on the tables: the ORM's bulk-insert machinery cost a third of this function.
    with db.writing() as session:
        conn = session.connection()
        new_ids = set(_NEW_CALLS.execute(conn, [p.row for p in batch]))
        fresh = [p for p in batch if p.id in new_ids]
        if fresh:
            _RAW.execute(conn, [{"call_id": p.id, "blob": p.raw_blob} for p in fresh])
        findings = [
            {**f, "call_id": p.id, "started_at": p.row["started_at"], "app": p.row["app"],
             "tenant": p.row["tenant"]}
            for p in fresh for f in p.findings
        ]
        if findings:
            _FINDINGS.execute(conn, findings)
        if fresh:
            entry = outbox.add(conn, "calls.ingested", {"call_ids": [p.id for p in fresh]})
            for p in fresh:
                p.outbox_id = entry
    return fresh


# ---- reading ----

def findings_for(session: Session, call_ids: Iterable[str]) -> dict[str, list[CallFinding]]:
    ids = list(call_ids)
    out: dict[str, list[CallFinding]] = {i: [] for i in ids}
    if ids:
        for f in session.scalars(select(CallFinding).where(CallFinding.call_id.in_(ids)).order_by(CallFinding.id)):
            out[f.call_id].append(f)
    return out


def get(session: Session, call_id: str) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise CallNotFound(f"no call with id {call_id}")
    return call


def read_raw(session: Session, call: Call, *, actor: str, role: str, reason: str | None) -> dict[str, Any] | None:
    """The raw content, written to the access log; None once retention purged it."""
    if call.has_raw:
        raw_row = session.get(CallRaw, call.id)
        if raw_row is None:
            return None
        content = privacy.decrypt(raw_row.blob)
    else:
        content = orjson.loads(call.content)
    session.add(RawAccess(call_id=call.id, actor=actor, role=role, at=utcnow(), reason=reason))
    return content


def to_out(call: Call, findings: list[CallFinding], content: dict[str, Any] | None = None,
           view: str = "redacted") -> CallOut:
    body = content if content is not None else orjson.loads(call.content)
    data: dict[str, Any] = {k: body.get(k) for k in CONTENT_KEYS}
    data["retrieval"] = data["retrieval"] or []
    data["tool_calls"] = data["tool_calls"] or []
    data["guardrails"] = data["guardrails"] or []
    data["metadata"] = data["metadata"] or {}
    return CallOut(
        id=call.id, app=call.app, environment=call.environment, tenant=call.tenant,
        session_id=call.session_id, user_pseudonym=call.user_pseudonym, model=call.model,
        model_resolved=call.model_resolved, provider=call.provider, prompt_version=call.prompt_version,
        system_prompt_sha256=call.system_prompt_sha256, input_tokens=call.input_tokens,
        output_tokens=call.output_tokens, cost_usd=call.cost_usd, latency_ms=call.latency_ms,
        status=call.status, trace_id=call.trace_id, span_id=call.span_id, api_key_id=call.api_key_id,
        started_at=call.started_at,
        ingested_at=call.ingested_at, legal_hold=call.legal_hold, content_view=view,  # type: ignore[arg-type]
        findings=[FindingOut(detector=f.detector, kind=f.kind, severity=f.severity, location=f.location,
                             start=f.start, end=f.end, entity=f.entity, confidence=f.confidence,
                             item=f.item, evidence=f.evidence) for f in findings],
        **data,
    )


def access_log(session: Session, call_id: str | None = None, limit: int = 100) -> list[RawAccess]:
    stmt = select(RawAccess).order_by(RawAccess.id.desc()).limit(limit)
    if call_id:
        stmt = stmt.where(RawAccess.call_id == call_id)
    return list(session.scalars(stmt))
