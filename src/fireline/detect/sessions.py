"""Per-session signals: steps, identical tool calls, tokens and spend of one session.

An agent that calls the same tool with the same arguments forty times, or a session that burns a
day's tokens in ten minutes, looks normal call by call; it shows only per session. Each call with
a session id that started within the window (backfills are not counted) is counted in the one
counter concept (fireline.counters), and a call that takes its session over a limit carries a
`session` finding (kinds steps, tool_loop, tokens, spend). The alert groups by session, so the
incident's signature is that session, and containment of the kinds listed in `contain` (by default
the tool loop: a session repeating itself is broken; a long one may be busy) stops that session
only, while its loop is still running.

    sessions:
      window: 1h                    # counts slide over this window (whole minutes: 30m, 1h)
      max_steps: 500                # calls in one session
      max_identical_tool_calls: 10  # the same tool with the same arguments
      max_tokens: 2000000
      max_cost_usd: 25
      type: cost_runaway            # TAXONOMY: tool loops and denial of wallet
      severity: P1
      contain: [tool_loop]          # kinds that stop the session (kill switch scoped to it); true: all
      apps: {research-agent: {max_steps: 500}}   # per-app overrides of any limit
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fireline.config_keys import ConfigError, describe
from fireline.counters import LocalCounter, WindowCounter
from fireline.detect.detectors.base import CallView, Finding, arguments_of
from fireline.detect.monitor_defs import TYPES
from fireline.durations import parse_minutes
from fireline.events import where
from fireline.metrics import RECORDS_SKIPPED

log = logging.getLogger("fireline.detect.sessions")

KINDS = ("steps", "tool_loop", "tokens", "spend")
Count = tuple[str, float, float, str, int | None]  # key, amount, limit, kind, tool index


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int | None = Field(500, ge=1)
    max_identical_tool_calls: int | None = Field(10, ge=1)
    max_tokens: int | None = Field(2_000_000, ge=1)
    max_cost_usd: float | None = Field(25.0, gt=0)


class SessionConfig(Limits):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window: int = 60  # minutes
    type: str = "cost_runaway"
    severity: Literal["P0", "P1", "P2", "P3"] = "P1"
    contain: bool | tuple[Literal["steps", "tool_loop", "tokens", "spend"], ...] = ("tool_loop",)
    apps: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def contain_kinds(self) -> tuple[str, ...]:
        if self.contain is True:
            return KINDS
        return () if self.contain is False else tuple(self.contain)

    @field_validator("window", mode="before")
    @classmethod
    def _minutes(cls, v: Any) -> Any:
        return parse_minutes(v)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in TYPES:
            raise ValueError(f"unknown incident type {v!r}; one of {', '.join(TYPES)}")
        return v


def load_sessions(section: Any) -> tuple[SessionConfig, dict[str, Limits]]:
    """The `sessions` section and its per-app limits; a mistake is a ConfigError naming the field."""
    try:
        cfg = SessionConfig.model_validate(section or {})
        base = {k: getattr(cfg, k) for k in Limits.model_fields}
    except ValidationError as exc:
        raise ConfigError(describe(exc, "sessions", SessionConfig)) from exc
    per_app: dict[str, Limits] = {}
    for app, over in cfg.apps.items():
        try:
            per_app[app] = Limits.model_validate({**base, **(over or {})})
        except ValidationError as exc:
            raise ConfigError(describe(exc, f"sessions.apps.{app}", Limits)) from exc
    return cfg, per_app


def _signature(name: str, arguments: Any) -> str:
    """Tool name and arguments, canonical (key order does not matter), as a short digest."""
    canon = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS) if not isinstance(arguments, str) else arguments
    return hashlib.blake2b(name.encode() + b"\0" + (canon if isinstance(canon, bytes) else canon.encode()),
                           digest_size=12).hexdigest()


class SessionSignals:
    """Counts each session's calls and flags the ones over a limit (thread-safe through the counter)."""

    def __init__(self, section: Any, counter: WindowCounter | None = None) -> None:
        self.config, self.per_app = load_sessions(section)
        self.counter: WindowCounter = counter or LocalCounter()
        self.window_s = self.config.window * 60.0

    def limits(self, app: str) -> Limits:
        return self.per_app.get(app) or self.config

    def observe(self, row: dict[str, Any], view: CallView, now: float | None = None) -> list[Finding]:
        """Count one prepared call (its row and view); the findings of the limits it went over."""
        return self.observe_many([(row, view)], now)[0]

    def observe_many(self, items: list[tuple[dict[str, Any], CallView]], now: float | None = None
                     ) -> list[list[Finding]]:
        """`observe` for a batch: one `add_many` (one round trip to a shared counter), in order."""
        if not self.config.enabled:
            return [[] for _ in items]
        now = time.time() if now is None else now
        per_item: list[list[Count]] = []
        for row, view in items:
            try:
                per_item.append(self._counts(row, view, now))
            except Exception as exc:  # one odd record is not counted; the others are
                RECORDS_SKIPPED.labels("sessions").inc()
                log.error("session signals failed on call %s: %s at %s", row.get("id"), type(exc).__name__, where(exc))
                per_item.append([])
        flat = [(k, a) for counts in per_item for k, a, _, _, _ in counts]
        if not flat:
            return [[] for _ in items]
        totals = iter(self.counter.add_many(flat, self.window_s, now))
        return [self._over(counts, [next(totals) for _ in counts], view)
                for counts, (_, view) in zip(per_item, items, strict=True)]

    def _counts(self, row: dict[str, Any], view: CallView, now: float) -> list[Count]:
        """Every count of this call: (key, amount, limit, kind, tool index)."""
        session = row.get("session_id")
        if not session:
            return []
        started = row.get("started_at")
        if started is not None and started.timestamp() < now - self.window_s:
            return []  # a backfill or a late batch: the session's window is long past
        lim = self.limits(row["app"])
        base = f"session|{row['app']}|{session}|"
        counts: list[Count] = []
        if lim.max_steps is not None:
            counts.append((base + "steps", 1.0, lim.max_steps, "steps", None))
        if lim.max_identical_tool_calls is not None:
            for i, tool in enumerate(view.tool_calls):
                key = base + "tool|" + _signature(str(tool.get("name") or ""), arguments_of(tool))
                counts.append((key, 1.0, lim.max_identical_tool_calls, "tool_loop", i))
        tokens = float((row.get("input_tokens") or 0) + (row.get("output_tokens") or 0))
        if lim.max_tokens is not None and tokens > 0:
            counts.append((base + "tokens", tokens, lim.max_tokens, "tokens", None))
        cost = float(row.get("cost_usd") or 0.0)
        if lim.max_cost_usd is not None and cost > 0:
            counts.append((base + "spend", cost, lim.max_cost_usd, "spend", None))
        return counts

    def _over(self, counts: list[Count], totals: list[float],
              view: CallView) -> list[Finding]:
        out: list[Finding] = []
        for (_, _, limit, kind, item), total in zip(counts, totals, strict=True):
            if total <= limit:
                continue
            if kind == "tool_loop" and item is not None:
                name = str(view.tool_calls[item].get("name") or "")
                what = f"{name} called {total:.0f} times with the same arguments (limit {limit:g})"
            elif kind == "spend":
                what = f"${total:.4f} spent in the session (limit ${limit:g})"
            else:
                what = f"{total:.0f} {'calls' if kind == 'steps' else 'tokens'} in the session (limit {limit:g})"
            out.append(self._finding(kind, what, item))
        return out

    def _finding(self, kind: str, what: str, item: int | None = None) -> Finding:
        return Finding(detector="session", kind=kind, severity=self.config.severity, confidence=1.0,
                       location="tool" if item is not None else "session", start=None, end=None, evidence=what,
                       item=item)
