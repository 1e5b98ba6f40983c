"""Fill in the content of a stored call that arrived without it (an OTLP span whose GenAI events
came later, as log records). Only what is missing is filled: a call's content is never replaced.

The filled call goes through the same privacy pass and detectors as at ingest (its findings are
recomputed), in one transaction. The monitors counted the call when it was stored; they are not
told again (a call is counted once).

Two exports can fill the same call at once (a call's events split over two OTLP log exports, or a
logs export meeting the span's late check): fills of one call are serialised in this process, and
a fill that finds the call changed by another process reads it again and fills what is still
missing, so no event's content is lost.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import delete

from fireline.calls import privacy
from fireline.calls.models import Call, CallFinding, CallRaw
from fireline.calls.schemas import CallIn
from fireline.calls.service import prepare
from fireline.db import Database, utcnow

FILLABLE = ("system_prompt", "input", "output", "tool_calls")


def _missing(value: Any) -> bool:
    return value is None or value == [] or value == ""


_LOCKS = tuple(threading.Lock() for _ in range(64))  # fills of one call, one at a time (by id hash)
ATTEMPTS = 5


class _Changed(Exception):
    """The call changed between reading and writing (another process filled, erased or held it)."""


def fill(db: Database, call_id: str, found: dict[str, Any], metadata: dict[str, Any] | None = None) -> bool:
    """Fill `call_id`'s missing content from `found` (CallIn keys). False when there is no such
    call, nothing was missing, its raw content was purged, or it is on legal hold (frozen evidence)."""
    with _LOCKS[hash(call_id) % len(_LOCKS)]:
        for _ in range(ATTEMPTS):
            try:
                return _fill_once(db, call_id, found, metadata)
            except _Changed:
                continue
        return False  # changed under it at every attempt


def _fill_once(db: Database, call_id: str, found: dict[str, Any], metadata: dict[str, Any] | None) -> bool:
    with db.session() as session:
        row = session.get(Call, call_id)
        raw_row = session.get(CallRaw, call_id) if row is not None else None
        if row is None or raw_row is None or row.legal_hold:
            return False
        blob = raw_row.blob
        raw = privacy.decrypt(blob)
        changed = [k for k in FILLABLE if _missing(raw.get(k)) and not _missing(found.get(k))]
        if not changed:
            return False
        for key in changed:
            raw[key] = found[key]
        meta = dict(raw.get("metadata") or {})
        meta.pop("content_captured", None)
        meta.update({k: v for k, v in (metadata or {}).items() if k not in meta})
        meta["content_joined_late"] = True
        call = CallIn.model_validate({
            **{k: raw.get(k) for k in ("system_prompt", "input", "output", "user_visible_output")},
            "retrieval": raw.get("retrieval") or [], "tool_calls": raw.get("tool_calls") or [],
            "guardrails": raw.get("guardrails") or [], "metadata": meta,
            "id": row.id, "app": row.app, "environment": row.environment, "tenant": row.tenant,
            "session_id": row.session_id, "model": row.model, "model_resolved": row.model_resolved,
            "provider": row.provider, "prompt_version": row.prompt_version, "status": row.status,
            "input_tokens": row.input_tokens, "output_tokens": row.output_tokens, "cost_usd": row.cost_usd,
            "latency_ms": row.latency_ms, "trace_id": row.trace_id, "span_id": row.span_id,
            "started_at": row.started_at})
        pseudonym, started, app, tenant = row.user_pseudonym, row.started_at, row.app, row.tenant
    p = prepare(call, utcnow())
    p.row["user_pseudonym"] = pseudonym  # the raw user id is not kept: keep its pseudonym
    db.bus.publish("calls.prepared", calls=[p], source="otlp")  # the detectors, as at ingest
    with db.writing() as session:
        row = session.get(Call, call_id)
        raw_row = session.get(CallRaw, call_id) if row is not None else None
        if row is None or raw_row is None or raw_row.blob != blob or row.legal_hold:
            raise _Changed  # read again: erased, held or already filled is then answered above
        row.content = p.row["content"]
        row.system_prompt_sha256 = p.row["system_prompt_sha256"]
        row.tools = p.row["tools"]
        row.finding_count = len(p.findings)
        raw_row.blob = p.raw_blob
        session.execute(delete(CallFinding).where(CallFinding.call_id == call_id))
        session.add_all(CallFinding(**{**f, "call_id": call_id, "started_at": started, "app": app,
                                       "tenant": tenant}) for f in p.findings)
    return True
