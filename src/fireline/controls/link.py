"""The seam to the incidents part: timeline entries, evidence snapshots, incident reads and the
`contained` move. Every call degrades to a no-op (or a clear error) while incidents is absent,
so the control plane runs on its own."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from fireline.errors import NotFound

log = logging.getLogger("fireline.controls")


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _find(name: str) -> Callable[..., Any] | None:
    """A function of the incidents part, wherever it lives (package, service, timeline, evidence)."""
    for mod_name in ("fireline.incidents", "fireline.incidents.service", "fireline.incidents.timeline",
                     "fireline.incidents.evidence", "fireline.incidents.snapshots",
                     "fireline.evidence", "fireline.evidence.service"):
        mod = _module(mod_name)
        fn = getattr(mod, name, None) if mod is not None else None
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def available() -> bool:
    return _find("append_timeline") is not None


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    id: str
    type: str
    severity: str
    state: str
    apps: tuple[str, ...]
    playbook: str | None = None
    tools: tuple[str, ...] = ()


def get_incident(session: Session, incident_id: str) -> IncidentInfo:
    getter = _find("get_incident")
    if getter is None:
        raise NotFound(f"no incident {incident_id}: the incidents part is not installed",
                       field="incident_id")
    row = getter(session, incident_id)
    if row is None:
        raise NotFound(f"no incident with id {incident_id}", field="incident_id")

    def attr(name: str, default: Any = None) -> Any:
        return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)

    return IncidentInfo(id=str(attr("id")), type=str(attr("type")), severity=str(attr("severity")),
                        state=str(attr("state")), apps=tuple(attr("apps") or ()),
                        playbook=attr("playbook"), tools=tuple(attr("tools") or ()))


def check_incident(session: Session, incident_id: str) -> None:
    """NotFound unless the incident exists (no check while incidents is absent)."""
    if _find("get_incident") is not None:
        get_incident(session, incident_id)


def append_timeline(session: Session, incident_id: str, kind: str, actor: str, data: dict[str, Any]) -> None:
    fn = _find("append_timeline")
    if fn is not None:
        fn(session, incident_id, kind, actor, data)


def take_snapshot(session: Session, incident_id: str, actor: str, reason: str) -> str | None:
    """Freeze evidence before a mutation; any failure propagates so the control is not applied."""
    fn = _find("take_snapshot")
    if fn is None:
        return None
    snap = fn(session, incident_id, actor=actor, reason=reason)
    return getattr(snap, "id", None) if snap is not None and not isinstance(snap, str) else snap


def mark_contained(session: Session, incident_id: str, actor: str) -> bool:
    """Move the incident to `contained` when its state machine allows it (False otherwise)."""
    fn = _find("contain_incident_state") or _find("transition")
    if fn is None:
        return False
    try:
        fn(session, incident_id, "contained", actor)
    except Exception as exc:  # a Conflict from the state machine: already contained or later
        log.info("incident %s not moved to contained: %s", incident_id, exc)
        return False
    return True


def register_evidence_source(name: str, fn: Callable[..., Any]) -> bool:
    register = _find("register_evidence_source")
    if register is None:
        return False
    register(name, fn)
    return True
