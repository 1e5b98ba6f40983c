"""Notification texts: one channel-neutral message per event, from the incident record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fireline.incidents.models import Incident
from fireline.incidents.timeline import stamp

PD_ACTIONS = {"opened": "trigger", "acknowledged": "acknowledge", "resolved": "resolve", "closed": "resolve",
              "false_positive": "resolve"}
STATE_EVENTS = ("acknowledged", "contained", "resolved", "closed", "false_positive")
OBLIGATION_NAMES = {"gdpr_art33": "GDPR Art. 33 notification to the supervisory authority",
                    "gdpr_art34": "GDPR Art. 34 communication to the data subjects"}


def incident_brief(inc: Incident) -> dict[str, Any]:
    roles = inc.roles or {}
    return {"id": inc.id, "title": inc.title, "type": inc.type, "severity": inc.severity, "state": inc.state,
            "apps": list((inc.scope or {}).get("apps", [])), "commander": inc.commander,
            "comms_lead": roles.get("comms_lead"), "detected_at": stamp(inc.detected_at),
            # The timeline's head when the message was made: a copy outside the database, so a rewritten
            # or truncated timeline fails `fireline incident verify INC --head SEQ:HASH`.
            "timeline_head": f"{inc.timeline_seq}:{inc.timeline_head}" if inc.timeline_seq else None}


def _hours(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.0f} h"
    return f"{max(seconds, 0) / 60:.0f} min"


def build(inc: Incident, event: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The message for `event` ("opened", a state, "sla_breached", "update", "update_reminder",
    "obligation_opened", "obligation_reminder")."""
    tag = f"[{inc.severity}] {inc.id}"
    apps = ", ".join((inc.scope or {}).get("apps", [])) or "no app recorded"
    to_extra: list[str] = []
    if event == "opened":
        subject = f"{tag} opened: {inc.title}"
        text = (f"A {inc.type} incident was opened on {apps}, detected at {stamp(inc.detected_at)}. "
                f"Acknowledge by {stamp(inc.ack_due_at) if inc.ack_due_at else 'the SLA'}.")
    elif event in STATE_EVENTS:
        subject = f"{tag} {event.replace('_', ' ')}: {inc.title}"
        text = f"{data.get('actor') or 'Someone'} moved the incident to {event.replace('_', ' ')}."
    elif event == "sla_breached":
        clock = data.get("clock", "response")
        subject = f"{tag} SLA breached ({clock}): {inc.title}"
        text = f"The {clock} clock of this {inc.severity} incident ran out; it is still {inc.state}."
    elif event == "update":
        subject = f"{tag} update{' (public)' if data.get('public') else ''}: {inc.title}"
        text = str(data.get("message", ""))
    elif event == "update_reminder":
        who = data.get("to") or "comms lead"
        since = float(data.get("seconds_since_update", 0))
        subject = f"{tag}: no update for {_hours(since)}"
        text = (f"{who}: this {inc.severity} incident has had no update for {_hours(since)}. Post one with "
                f"`fireline incident update {inc.id} --message ...` (add --public for the status page).")
        if data.get("email"):
            to_extra.append(str(data["email"]))
    elif event in ("obligation_opened", "obligation_reminder"):
        name = OBLIGATION_NAMES.get(str(data.get("kind")), str(data.get("kind")))
        due = datetime.fromisoformat(str(data["due_at"]).replace("Z", "+00:00"))
        left = (due - now).total_seconds()
        subject = (f"{tag}: {name} due {stamp(due)[:16].replace('T', ' ')} UTC" if event == "obligation_opened"
                   else f"{tag}: {name} due in {_hours(left)}")
        text = (f"{name} for {inc.id} ({inc.title}) is due at {stamp(due)}, {_hours(left)} from now. "
                f"See GET /api/v1/incidents/{inc.id}/obligations for the required contents, and mark it met "
                f"when sent.")
    else:
        subject = f"{tag} {event}: {inc.title}"
        text = str(data.get("message") or event)
    return {"event": event, "subject": subject, "text": text, "incident": incident_brief(inc),
            "pd_action": PD_ACTIONS.get(event), "to_extra": to_extra, "at": stamp(now)}
