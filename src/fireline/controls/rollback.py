"""Rollback targets: the model or prompt version that was in effect before the incident began.

"The previous registry entry" is a guess (it may be a weaker prompt without the business rules,
or the version that was already running when things went wrong). The prompt log knows better:
the version most calls of the app used in the window before onset. If that is the version the
bad calls used too, the version did not change, so a rollback would not help and the playbook
moves on to its next action.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.calls.models import Call
from fireline.controls.link import IncidentInfo
from fireline.incidents.models import IncidentCall

SAMPLE = 500  # calls looked at on each side of onset
LOOKBACK = timedelta(days=7)


def _column(kind: str) -> Any:
    return Call.model_resolved if kind == "model_pin" else Call.prompt_version


def _dominant(values: list[str | None]) -> str | None:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def version_before_onset(session: Session, incident: IncidentInfo, app: str, kind: str,
                         registry: list[str]) -> tuple[str | None, dict[str, Any]]:
    """(target, evidence): the registered version in effect before onset, or None when none is
    known or it is the version the incident's calls ran on."""
    onset: datetime | None = incident.onset_at or incident.first_call_at or incident.detected_at
    if onset is None:
        return None, {"reason": "no onset"}
    col = _column(kind)
    before = list(session.scalars(select(col).where(Call.app == app, Call.started_at < onset,
                                                    Call.started_at >= onset - LOOKBACK)
                                  .order_by(Call.started_at.desc()).limit(SAMPLE)))
    bad_calls = select(IncidentCall.call_id).where(IncidentCall.incident_id == incident.id)
    linked = list(session.scalars(select(col).where(Call.id.in_(bad_calls), Call.app == app).limit(SAMPLE)))
    if not linked:
        linked = list(session.scalars(select(col).where(Call.app == app, Call.started_at >= onset)
                                      .order_by(Call.started_at).limit(SAMPLE)))
    was, now = _dominant(before), _dominant(linked)
    evidence = {"onset": onset.isoformat(), "before_onset": was, "during": now, "calls_before": len(before)}
    if was is None:
        return None, {**evidence, "reason": "no calls before onset"}
    if was == now:
        return None, {**evidence, "reason": "the version did not change at onset"}
    if was not in registry:
        return None, {**evidence, "reason": f"{was} is not in the app's registry"}
    return was, evidence
