"""Change correlation: the deploy and change markers in the window before an incident's onset.

Onset is the first occurrence in production (the blast radius's earliest matching call), which
may predate detection; the window runs from `hours` before onset until detection.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fireline.incidents.blast import blast_radius
from fireline.incidents.models import Incident
from fireline.ingest.changes import ChangeOut, changes_between


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def changes_before_onset(session: Session, inc: Incident, *, hours: float = 24.0,
                         first_occurrence: datetime | str | None = None) -> dict[str, Any]:
    onset = _parse(first_occurrence) or _parse(blast_radius(session, inc).get("first_occurrence"))
    onset = min(onset, inc.detected_at) if onset else inc.detected_at
    since = onset - timedelta(hours=hours)
    apps = list((inc.scope or {}).get("apps", []))
    rows = changes_between(session, since, inc.detected_at, apps)
    changes = []
    for row in rows:
        item = ChangeOut.of(row).dump()
        item["before_onset_s"] = round((onset - row.at).total_seconds(), 1)
        changes.append(item)
    return {"onset": onset.isoformat(), "detected_at": inc.detected_at.isoformat(), "since": since.isoformat(),
            "apps": apps, "changes": changes}
