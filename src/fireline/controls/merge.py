"""A merged incident's controls carry on under the incident it was merged into.

The "incident.merged" handler (wired in fireline.wiring, delivered through the outbox) re-points
every control of the merged incident, active or not, to the survivor, and says so on both
timelines. Idempotent: a redelivery finds nothing left to move. The controls keep doing what they
did (their scope and params are unchanged; the gateway's state does not change), but from now on
the survivor's page lists them, `contain` on the survivor sees them in force (no duplicate), and
they are reverted with it (drills revert every control of the drill at the end). A moved control
that duplicates one the survivor has in force already (both incidents were auto-contained the same
way) is reverted as a duplicate: one control per kind, scope and params, as `contain` keeps it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fireline.controls import link
from fireline.controls.models import ControlRow
from fireline.controls.service import _revert_row, published, transaction
from fireline.db import Database, utcnow


def move(db: Database, incident_id: str, into: str, actor: str) -> list[str]:
    """Re-point the controls of `incident_id` to `into`; answers the ids moved."""
    with transaction(db) as session:
        rows = list(session.scalars(select(ControlRow).where(ControlRow.incident_id == incident_id)
                                    .order_by(ControlRow.created_at).with_for_update()))
        if not rows:
            return []
        for row in rows:
            row.incident_id = into
        moved = [r.id for r in rows]
        active = [r.id for r in rows if r.reverted_at is None]
        link.append_timeline(session, into, "controls.moved", actor,
                             {"from": incident_id, "controls": moved, "active": active})
        link.append_timeline(session, incident_id, "controls.moved", actor,
                             {"into": into, "controls": moved, "active": active})
        revision = _drop_duplicates(session, into, set(active), actor, f"duplicate after merging {incident_id}")
    if revision is not None:
        published(db, revision)
    return moved


def _drop_duplicates(session: Any, into: str, moved: set[str], actor: str, reason: str) -> int | None:
    now = utcnow()
    kept: dict[str, ControlRow] = {}
    revision = None
    rows = session.scalars(select(ControlRow).where(ControlRow.incident_id == into, ControlRow.reverted_at.is_(None))
                           .order_by(ControlRow.created_at, ControlRow.id)).all()
    for row in sorted(rows, key=lambda r: r.id in moved):  # the survivor's own first: those stay
        if row.expires_at is not None and row.expires_at <= now:
            continue
        key = repr((row.kind, sorted(dict(row.scope).items()), sorted(dict(row.params).items(), key=str)))
        first = kept.setdefault(key, row)
        if first is not row and row.id in moved:
            revision = _revert_row(session, row, actor, f"{reason} (same as {first.id})", "control.reverted")
    return revision


def on_incident_merged(*, db: Database, incident_id: str, into: str, actor: str = "fireline", **_: Any) -> None:
    move(db, incident_id, into, actor)
