"""Retention, erasure by subject and legal hold: the data-protection side of the log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fireline.calls import dead_letters, privacy
from fireline.calls.models import Call, CallFinding, CallRaw, Erasure, ErasureRequest, LegalHold
from fireline.calls.schemas import ErasureReport, RetentionReport
from fireline.db import bus_of, utcnow


def place_hold(session: Session, call_ids: Iterable[str], *, holder: str, actor: str) -> int:
    """Hold calls for an incident; a call already held by the same holder is not held twice."""
    ids = set(call_ids)
    if not ids:
        return 0
    already = set(session.scalars(select(LegalHold.call_id).where(
        LegalHold.holder == holder, LegalHold.released_at.is_(None), LegalHold.call_id.in_(ids))))
    existing = set(session.scalars(select(Call.id).where(Call.id.in_(ids))))
    now = utcnow()
    new = sorted((ids & existing) - already)
    session.add_all([LegalHold(call_id=c, holder=holder, placed_at=now, placed_by=actor) for c in new])
    session.execute(update(Call).where(Call.id.in_(new)).values(legal_hold=True))
    return len(new)


def release_holds(session: Session, *, holder: str, actor: str) -> int:
    held = list(session.scalars(select(LegalHold.call_id).where(
        LegalHold.holder == holder, LegalHold.released_at.is_(None))))
    if not held:
        return 0
    session.execute(update(LegalHold).where(LegalHold.holder == holder, LegalHold.released_at.is_(None))
                    .values(released_at=utcnow(), released_by=actor))
    still = set(session.scalars(select(LegalHold.call_id).where(
        LegalHold.call_id.in_(held), LegalHold.released_at.is_(None))))
    free = [c for c in held if c not in still]
    if free:
        session.execute(update(Call).where(Call.id.in_(free)).values(legal_hold=False))
    return len(held)


def holders_of(session: Session, call_ids: Iterable[str]) -> list[str]:
    ids = list(call_ids)
    if not ids:
        return []
    return sorted(set(session.scalars(select(LegalHold.holder).where(
        LegalHold.call_id.in_(ids), LegalHold.released_at.is_(None)))))


def erase_subject(session: Session, user: str, *, actor: str, is_pseudonym: bool = False) -> ErasureReport:
    """Delete one person's calls everywhere, except calls on legal hold, which are reported."""
    pseudo = user if is_pseudonym else privacy.pseudonym(user)
    rows = session.execute(select(Call.id, Call.legal_hold).where(Call.user_pseudonym == pseudo)).all()
    held = [r.id for r in rows if r.legal_hold]
    free = [r.id for r in rows if not r.legal_hold]
    deleted_raw = deleted_findings = 0
    for i in range(0, len(free), 500):
        chunk = free[i:i + 500]
        deleted_raw += session.scalar(select(func.count()).select_from(CallRaw).where(
            CallRaw.call_id.in_(chunk))) or 0
        deleted_findings += session.scalar(select(func.count()).select_from(CallFinding).where(
            CallFinding.call_id.in_(chunk))) or 0
        session.execute(delete(CallRaw).where(CallRaw.call_id.in_(chunk)))
        session.execute(delete(CallFinding).where(CallFinding.call_id.in_(chunk)))
        session.execute(delete(Call).where(Call.id.in_(chunk)))
    dead_letters.erase(session, pseudo)
    holders = holders_of(session, held)
    report = ErasureReport(user_pseudonym=pseudo, deleted_calls=len(free), deleted_raw=deleted_raw,
                           deleted_findings=deleted_findings, held_calls=len(held), held_by=holders)
    # Later parts (reports, evidence) erase their own copies in the same transaction: all or nothing.
    bus_of(session).publish_strict("subject.erased", session=session, user_pseudonym=pseudo, report=report)
    now = utcnow()
    session.add(Erasure(user_pseudonym=pseudo, at=now, actor=actor, deleted_calls=len(free),
                        held_calls=len(held), holders=",".join(holders)))
    pending = session.scalars(select(ErasureRequest).where(ErasureRequest.user_pseudonym == pseudo,
                                                           ErasureRequest.done_at.is_(None))).first()
    if held and pending is None:  # queued: carried out when the last hold on these calls is released
        session.add(ErasureRequest(user_pseudonym=pseudo, requested_at=now, requested_by=actor,
                                   holders=",".join(holders)))
        report.queued = True
    elif held and pending is not None:
        pending.holders = ",".join(holders)
        report.queued = True
    elif pending is not None:
        pending.done_at, pending.done_by = now, actor
    # SQLite: once committed, checkpoint the WAL so the erased content does not linger in -wal.
    session.info["wal_checkpoint"] = True
    return report


def erasure_requests(session: Session, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The queued (and done) erasure requests, newest first, with the runs recorded for each person."""
    stmt = select(ErasureRequest).order_by(ErasureRequest.id.desc()).limit(limit)
    if status == "queued":
        stmt = stmt.where(ErasureRequest.done_at.is_(None))
    elif status == "done":
        stmt = stmt.where(ErasureRequest.done_at.is_not(None))
    out = []
    for r in session.scalars(stmt):
        runs = session.scalars(select(Erasure).where(Erasure.user_pseudonym == r.user_pseudonym,
                                                     Erasure.at >= r.requested_at).order_by(Erasure.id))
        out.append({"user_pseudonym": r.user_pseudonym, "status": "done" if r.done_at else "queued",
                    "requested_at": r.requested_at, "requested_by": r.requested_by,
                    "held_by": [h for h in r.holders.split(",") if h], "done_at": r.done_at, "done_by": r.done_by,
                    "runs": [{"at": e.at, "actor": e.actor, "deleted_calls": e.deleted_calls,
                              "held_calls": e.held_calls} for e in runs]})
    return out


def run_queued_erasures(session: Session, *, actor: str) -> int:
    """Carry out the erasures that legal hold blocked and whose calls are free now (after a hold
    release, in its transaction). Returns how many requests were completed."""
    done = 0
    for request in list(session.scalars(select(ErasureRequest).where(ErasureRequest.done_at.is_(None))
                                        .order_by(ErasureRequest.id))):
        free = session.scalar(select(func.count()).select_from(Call).where(
            Call.user_pseudonym == request.user_pseudonym, Call.legal_hold.is_(False))) or 0
        held = session.scalar(select(func.count()).select_from(Call).where(
            Call.user_pseudonym == request.user_pseudonym, Call.legal_hold.is_(True))) or 0
        if held and not free:
            continue  # still all held (by another incident): nothing to do, nothing to record
        report = erase_subject(session, request.user_pseudonym, actor=f"erasure queue ({actor})"[:64],
                               is_pseudonym=True)
        if not report.queued:
            done += 1
    return done


def run_retention(session: Session, *, raw_days: int, record_days: int) -> RetentionReport:
    now = utcnow()
    raw_cutoff = now - timedelta(days=raw_days)
    record_cutoff = now - timedelta(days=record_days)
    old_raw = select(Call.id).where(Call.started_at < raw_cutoff, Call.legal_hold.is_(False),
                                    Call.has_raw.is_(True))
    raw_ids = list(session.scalars(old_raw))
    for i in range(0, len(raw_ids), 500):
        chunk = raw_ids[i:i + 500]
        session.execute(delete(CallRaw).where(CallRaw.call_id.in_(chunk)))
        session.execute(update(Call).where(Call.id.in_(chunk)).values(has_raw=False))
    dead_letters.purge_before(session, raw_cutoff)  # they hold raw content (encrypted)
    old = list(session.scalars(select(Call.id).where(Call.started_at < record_cutoff,
                                                     Call.legal_hold.is_(False))))
    for i in range(0, len(old), 500):
        chunk = old[i:i + 500]
        session.execute(delete(CallFinding).where(CallFinding.call_id.in_(chunk)))
        session.execute(delete(CallRaw).where(CallRaw.call_id.in_(chunk)))
        session.execute(delete(Call).where(Call.id.in_(chunk)))
        # Later parts (user reports) drop what they keep about these calls in the same transaction.
        bus_of(session).publish_strict("calls.purged", session=session, call_ids=chunk)
    held = session.scalar(select(func.count()).select_from(Call).where(
        Call.started_at < raw_cutoff, Call.legal_hold.is_(True))) or 0
    return RetentionReport(raw_purged=len(raw_ids), calls_purged=len(old), held_skipped=int(held))
