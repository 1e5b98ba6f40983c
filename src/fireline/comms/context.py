"""The template context of one incident: what message templates may use, and nothing more.

    incident.{id, title, summary, type, type_label, severity, state, phase, apps, detected_at,
              acknowledged_at, contained_at, resolved_at, commander, comms_lead}
    impact.{users, sessions, tenants, calls, first_occurrence, data_categories, pii_items}
    disclosure.{deadline, likely_consequences, measures, high_risk}
    latest_update, latest_public_update, organisation, dpo_contact, now
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.comms.cadence import PHASES, updates
from fireline.comms.config import CommsConfig
from fireline.comms.facts import describe_control, gather
from fireline.comms.models import Obligation
from fireline.incidents.timeline import stamp

TYPE_LABELS = {"data_leakage": "exposure of data", "harmful_output": "harmful responses",
               "hallucination": "incorrect answers", "agentic_harm": "unintended automated actions",
               "prompt_injection": "manipulated responses", "policy_bypass": "responses outside our policies",
               "capability_loss": "the assistant not answering", "quality_degradation": "lower answer quality",
               "availability": "errors and slow responses", "cost_runaway": "unusual usage",
               "bias": "biased responses", "distribution_shift": "lower answer quality",
               "data_poisoning": "incorrect answers", "model_extraction": "unusual usage"}


def _t(value: datetime | None) -> str | None:
    return stamp(value) if value else None


def build(session: Session, cfg: CommsConfig, incident_id: str, now: datetime) -> dict[str, Any]:
    f = gather(session, incident_id)
    inc = f.incident
    roles = inc.roles or {}
    apps = list((inc.scope or {}).get("apps", []))
    all_updates = updates(session, incident_id)
    public = [u for u in all_updates if u.public]
    art33 = session.scalar(select(Obligation).where(Obligation.incident_id == inc.id,
                                                    Obligation.kind == "gdpr_art33"))
    consequences = (f.comms.likely_consequences if f.comms else None) or cfg.comms.likely_consequences.get(inc.type)
    measures = [describe_control(c) for c in f.controls]
    if inc.contained_at:
        measures.append(f"incident contained {stamp(inc.contained_at)[:16].replace('T', ' ')} UTC")
    pii = f.pii
    return {
        "incident": {"id": inc.id, "title": inc.title, "summary": inc.summary, "type": inc.type,
                     "type_label": TYPE_LABELS.get(inc.type, inc.type.replace("_", " ")),
                     "severity": inc.severity, "state": inc.state, "phase": PHASES.get(inc.state),
                     "apps": ", ".join(apps) or None, "detected_at": _t(inc.detected_at),
                     "acknowledged_at": _t(inc.acknowledged_at), "contained_at": _t(inc.contained_at),
                     "resolved_at": _t(inc.resolved_at), "commander": inc.commander,
                     "comms_lead": roles.get("comms_lead")},
        "impact": {"users": f.blast.get("users") or None, "sessions": f.blast.get("sessions") or None,
                   "tenants": f.blast.get("tenants") or None, "calls": f.blast.get("calls") or None,
                   "first_occurrence": f.blast.get("first_occurrence"),
                   "data_categories": ", ".join(sorted(pii)) or None, "pii_items": sum(pii.values()) or None},
        "disclosure": {"deadline": _t(art33.due_at) if art33 else None, "likely_consequences": consequences,
                       "measures": "; ".join(measures) or None, "high_risk": f.high_risk},
        "latest_update": all_updates[-1].message if all_updates else None,
        "latest_public_update": public[-1].message if public else None,
        "organisation": cfg.comms.organisation, "dpo_contact": cfg.comms.dpo_contact, "now": stamp(now),
    }
