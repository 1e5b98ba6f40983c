"""Change correlation: the deploy and change markers in the window before an incident's onset.

The onset is where the incident's rate changed (`fireline.detect.onset`): the monitor that opened
the incident places it when it fires; otherwise it is placed once from the prompt log (the
incident's signature over its scope) and stored on the incident. Without a change in rate it is
the first matching call. The window runs from `hours` before onset until detection.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fireline.detect.onset import place_onset
from fireline.incidents.blast import blast_radius, signature
from fireline.incidents.models import Incident
from fireline.ingest.changes import ChangeOut, changes_between
from fireline.investigate import ranking


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def incident_onset(session: Session, inc: Incident, *, store: bool = True) -> tuple[datetime, dict[str, Any]]:
    """The incident's onset and how it was placed; placed from the prompt log (and stored on the
    incident when `store`) if the opening alert did not carry one."""
    if inc.onset_at is not None:
        return inc.onset_at, dict(inc.onset or {"method": "stored"})
    sig = signature(session, inc)
    found = None
    if sig["findings"] or sig["status"]:
        found = place_onset(session, since=sig["since"], until=sig["until"], apps=sig["apps"],
                            tenants=sig["tenants"], models=sig["models"], prompt_versions=sig["prompt_versions"],
                            findings=sig["findings"], status=sig["status"])
    at = _parse(found["at"]) if found else None
    if at is None or found is None:
        first = _parse(blast_radius(session, inc).get("first_occurrence"))
        at, found = (first or inc.detected_at), {"method": "first_occurrence" if first else "detected_at"}
    at = min(at, inc.detected_at)
    found["at"] = at.isoformat()
    if store:
        inc.onset_at, inc.onset = at, found
    return at, found


def changes_before_onset(session: Session, inc: Incident, *, hours: float = 24.0,
                         first_occurrence: datetime | str | None = None) -> dict[str, Any]:
    explicit = _parse(first_occurrence)
    onset, how = (explicit, {"method": "given"}) if explicit else incident_onset(session, inc)
    onset = min(onset, inc.detected_at)
    since = onset - timedelta(hours=hours)
    apps = list((inc.scope or {}).get("apps", []))
    rows = changes_between(session, since, inc.detected_at, apps)
    scores = {r["id"]: r for r in ranking.rank(session, rows, metric_of(session, inc), onset, inc.detected_at)}
    changes = []
    for row in rows:
        item = ChangeOut.of(row).dump()
        item["before_onset_s"] = round((onset - row.at).total_seconds(), 1)
        item.update({k: v for k, v in scores[row.id].items() if k != "id"})
        changes.append(item)
    # The likeliest culprit first: the rate followed it, and it came closest to onset.
    changes.sort(key=lambda c: (-c["score"], abs(c["before_onset_s"])))
    for i, c in enumerate(changes, 1):
        c["rank"] = i
    return {"onset": onset.isoformat(), "onset_method": how.get("method"), "detected_at": inc.detected_at.isoformat(),
            "since": since.isoformat(), "apps": apps, "changes": changes}


def metric_of(session: Session, inc: Incident) -> ranking.Metric:
    """What "the rate" of this incident is: its findings' share, its failures' share, or the mean
    answer length for an answer-length incident."""
    sig = signature(session, inc)
    length = bool(inc.dedup_key and inc.dedup_key.startswith("monitor:output_length"))
    return ranking.Metric(sig["findings"], sig["status"], length)
