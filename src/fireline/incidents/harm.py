"""Severity and type from the harm: what the linked calls did, not which monitor noticed first.

Some findings are harm itself: a destructive write, personal data or secrets leaving through a
tool call, another tenant's data served, spend over a budget. When an incident's calls carry
one, its severity is at least the TAXONOMY default for that harm's type, and when that raises it,
the type becomes the harm's (a P2 tool-argument anomaly that mailed out customer data is a P0
data_leakage, with its GDPR clock). The decision and its evidence go on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fireline.calls.models import CallFinding
from fireline.incidents.taxonomy import TYPES

RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}

# (detector, kind) -> the incident type of that harm; the severity is the type's TAXONOMY default.
HARMS: dict[tuple[str, str], str] = {
    ("tool_policy", "destructive_write"): "agentic_harm",
    ("pii", "pii_egress"): "data_leakage",
    ("secrets", "secret_egress"): "data_leakage",
    ("canary", "canary_egress"): "data_leakage",
    ("canary", "canary_leak"): "data_leakage",
    ("budget", "exceeded"): "cost_runaway",
    ("budget", "blocked"): "cost_runaway",
}
_LABELS = {"destructive_write": "a destructive write", "pii_egress": "personal data leaving through a tool",
           "secret_egress": "a secret leaving through a tool", "canary_egress": "another tenant's data leaving",
           "canary_leak": "another tenant's data served", "exceeded": "spend over budget",
           "blocked": "spend over budget"}


@dataclass(frozen=True, slots=True)
class Harm:
    detector: str
    kind: str
    type: str
    severity: str
    calls: int

    @property
    def label(self) -> str:
        return _LABELS.get(self.kind, f"{self.detector}/{self.kind}")

    def as_json(self) -> dict[str, object]:
        return {"detector": self.detector, "kind": self.kind, "type": self.type, "severity": self.severity,
                "what": self.label, "calls": self.calls}


# By the calls' ids (their index), narrowed to the harms' kinds; the (detector, kind) pairs are
# picked in Python. A condition on the detector too would let SQLite walk the (detector, kind, ...)
# index instead: every harm finding ever stored, for each alert (O(table), not O(alert)).
_HARM_KINDS = sorted({k for _, k in HARMS})
_FINDINGS = (select(CallFinding.detector, CallFinding.kind, CallFinding.call_id)
             .where(CallFinding.call_id.in_(bindparam("ids", expanding=True)), CallFinding.kind.in_(_HARM_KINDS)))


def harm_findings(session: Session, call_ids: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """The harms (detector, kind) each of these calls carries (one read per 1,000 calls)."""
    ids = list(dict.fromkeys(c for c in call_ids if c))
    found: dict[str, set[tuple[str, str]]] = {}
    for i in range(0, len(ids), 1000):
        for detector, kind, call_id in session.execute(_FINDINGS, {"ids": ids[i:i + 1000]}):
            if (detector, kind) in HARMS:
                found.setdefault(call_id, set()).add((detector, kind))
    return found


def worst_harm(session: Session, call_ids: Iterable[str],
               found: dict[str, set[tuple[str, str]]] | None = None) -> Harm | None:
    """The most severe harm among the calls' findings (None when they carry none). `found`: what
    harm_findings read already for these calls (and maybe others)."""
    ids = list(dict.fromkeys(c for c in call_ids if c))[:1000]
    if not ids:
        return None
    if found is None:
        found = harm_findings(session, ids)
    calls: dict[tuple[str, str], set[str]] = {}
    for call_id in ids:
        for pair in sorted(found.get(call_id, ())):
            calls.setdefault(pair, set()).add(call_id)
    best: Harm | None = None
    for (detector, kind), hit in calls.items():
        type_name = HARMS[(detector, kind)]
        harm = Harm(detector, kind, type_name, TYPES[type_name].severity, len(hit))
        if best is None or (RANK[harm.severity], -harm.calls) < (RANK[best.severity], -best.calls):
            best = harm
    return best


def raises(harm: Harm | None, severity: str) -> bool:
    """Whether the harm calls for a stricter severity than `severity`."""
    return harm is not None and RANK[harm.severity] < RANK.get(severity, 3)
