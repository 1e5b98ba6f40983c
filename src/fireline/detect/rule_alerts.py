"""Alerts straight from per-call rule findings: declared policies, session signals and budgets.

A rule is the team's own statement of what must not happen, so there is no window and no
baseline: the first violating call fires at once (in the ingest thread, before the write
returns) with the rule's type and severity, and the alert names the rule. While violations
continue, one alert per dedup key per `repeat_s` carries the calls seen since, so every
violating call is linked to the incident without one timeline entry per call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fireline.signals import Alert

MAX_CALLS = 500


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """What an alert needs to know of the rule behind a finding's detector name."""

    name: str  # the detector name: policy:<name>, session, budget
    type: str
    severity: str
    title: str
    group_by: tuple[str, ...] = ("app",)  # row keys that separate incidents: app, session_id, api_key_id
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Pending:
    meta: RuleMeta
    group: str
    call_ids: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)

    def add(self, row: dict[str, Any], kinds: Iterable[str], tools: Iterable[str]) -> None:
        if len(self.call_ids) < MAX_CALLS:
            self.call_ids.append(str(row["id"]))
        for k in kinds:
            self.kinds[k] = self.kinds.get(k, 0) + 1
        for key, value in (("apps", row.get("app")), ("tenants", row.get("tenant")),
                           ("models", row.get("model_resolved") or row.get("model")),
                           ("prompt_versions", row.get("prompt_version")), ("sessions", row.get("session_id")),
                           ("keys", row.get("api_key_id")), ("users", row.get("user_pseudonym"))):
            if value:
                self.sets.setdefault(key, set()).add(str(value))
        for t in tools:
            self.sets.setdefault("tools", set()).add(t)

    def alert(self, at: datetime) -> Alert:
        s = {k: tuple(sorted(v)) for k, v in self.sets.items()}
        meta = self.meta
        fields = {"rule": meta.name.split(":", 1)[-1], "group": self.group, "count": len(self.call_ids),
                  "kinds": ", ".join(sorted(self.kinds))}
        try:
            title = meta.title.format(**fields)
        except (KeyError, ValueError, IndexError):
            title = f"{meta.name} on {self.group}"
        details = dict(meta.details)
        if "contain_kinds" in details:  # the rule asks for containment of some kinds only
            details["contain"] = bool(set(details.pop("contain_kinds")) & set(self.kinds))
        return Alert(dedup_key=f"{meta.name}:{self.group}", source="rule", title=title[:500], type=meta.type,
                     severity=meta.severity, at=at, apps=s.get("apps", ()), call_ids=tuple(self.call_ids),
                     tenants=s.get("tenants", ()), models=s.get("models", ()),
                     prompt_versions=s.get("prompt_versions", ()), tools=s.get("tools", ()),
                     sessions=s.get("sessions", ()), keys=s.get("keys", ()), users=s.get("users", ()),
                     monitor=meta.name, signal=meta.name,
                     details={**details, "rule": fields["rule"], "kinds": dict(self.kinds),
                              "count": len(self.call_ids), "group": self.group})


class RuleAlerts:
    """Turns rule findings of stored calls into alerts (thread-safe; `emit` runs outside the lock)."""

    def __init__(self, resolve: Callable[[str, dict[str, Any]], RuleMeta | None], emit: Callable[[list[Alert]], None],
                 repeat_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.resolve, self.emit, self.repeat_s, self.clock = resolve, emit, repeat_s, clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def observe(self, calls: Iterable[Any]) -> None:
        """`calls`: PreparedCall-like objects (row, raw, findings) just stored."""
        now = self.clock()
        due: list[Alert] = []
        with self._lock:
            touched: set[str] = set()
            for p in calls:
                by_rule: dict[str, list[dict[str, Any]]] = {}
                for f in p.findings:
                    det = f["detector"]
                    if det.startswith("policy:") or det in ("session", "budget"):
                        by_rule.setdefault(det, []).append(f)
                if not by_rule:
                    continue
                tool_calls = p.raw.get("tool_calls") or []
                for det, found in by_rule.items():
                    meta = self.resolve(det, found[0])
                    if meta is None:
                        continue
                    group = ",".join(f"{k}={p.row.get(k) or '-'}" for k in meta.group_by)
                    key = f"{meta.name}:{group}"
                    pending = self._pending.get(key)
                    if pending is None:
                        pending = self._pending[key] = _Pending(meta, group)
                    tools = [str(tool_calls[f["item"]].get("name")) for f in found
                             if f.get("location") == "tool" and isinstance(f.get("item"), int)
                             and f["item"] < len(tool_calls)]
                    pending.add(p.row, (f["kind"] for f in found), tools)
                    touched.add(key)
            for key in touched:
                if now - self._last.get(key, -1e18) >= self.repeat_s:
                    due.append(self._take(key, now))
        if due:
            self.emit(due)

    def tick(self) -> None:
        """Publish what accumulated under the repeat interval (the detect clock calls this)."""
        now = self.clock()
        with self._lock:
            due = [self._take(k, now) for k in list(self._pending) if now - self._last.get(k, -1e18) >= self.repeat_s]
            if len(self._last) > 50_000:
                self._last = {k: t for k, t in self._last.items() if now - t < self.repeat_s}
        if due:
            self.emit(due)

    def _take(self, key: str, now: float) -> Alert:
        pending = self._pending.pop(key)
        self._last[key] = now
        return pending.alert(datetime.fromtimestamp(now, UTC))
