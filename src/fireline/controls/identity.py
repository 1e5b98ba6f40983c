"""Users in control scopes: stored as the keyed pseudonym and a salted match digest, never raw;
erasure blanks them out; rows stored before that are converted at start."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls import privacy
from fireline.controls.models import ControlRow
from fireline.controls.users import ERASED, PSEUDONYM, user_digest
from fireline.db import Database
from fireline.errors import Invalid


def user_scope(user: str) -> dict[str, str]:
    """What a control stores for `scope.user`: the keyed pseudonym (the one calls carry, so erasure
    and the blast radius see it) and, when given the raw id, its digest under the published match
    salt, so SDKs without the secret can match. A pseudonym given as is stays as is."""
    user = user.strip()
    if not user:
        raise Invalid("scope.user: must not be empty", field="scope.user")
    if PSEUDONYM.fullmatch(user):
        return {"user": user}
    return {"user": privacy.pseudonym(user), "user_match": user_digest(privacy.match_salt(), user)}


def on_subject_erased(session: Session, user_pseudonym: str, **_: Any) -> None:
    """Erasure reaches controls scoped to the person: the scope keeps no pseudonym or digest of
    them (such a control then matches no one), and the state's revision moves so every process
    and SDK drops it. Incident timelines keep the entries as signed (the pseudonym only)."""
    from fireline.controls import service

    changed = False
    for row in session.scalars(select(ControlRow)):
        if (row.scope or {}).get("user") != user_pseudonym:
            continue
        row.scope = {k: v for k, v in row.scope.items() if k != "user_match"} | {"user": ERASED}
        changed = True
    if changed:
        service.bump_revision(session)


def pseudonymise_stored_scopes(db: Database) -> int:
    """At start: controls stored with a raw `scope.user` (before scopes were pseudonymised) get the
    pseudonym and match digest instead; the revision moves when any changed. Returns how many."""
    from fireline.controls import service

    with db.writing() as session:
        changed = 0
        for row in session.scalars(select(ControlRow)):
            user = (row.scope or {}).get("user")
            if not isinstance(user, str) or user == ERASED or PSEUDONYM.fullmatch(user) or not user.strip():
                continue
            row.scope = {**row.scope, **user_scope(user)}
            changed += 1
        if changed:
            service.bump_revision(session)
        return changed
