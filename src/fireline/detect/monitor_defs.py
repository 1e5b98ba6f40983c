"""Monitor definitions: the declarative form (YAML `monitors:` section), checked and merged over the
shipped defaults (`detect.monitor_defaults`).

A monitor turns calls and reports into one number per group and time window and compares it
with a baseline:

    - name: refusal_rate
      signal: findings            # findings | calls | errors | cost | latency | reports
      match: {detector: [refusal]}
      window: 30m                 # whole minutes: 10m, 1h
      condition: ratio >= 3       # ratio >= k | ratio <= k (a drop) | value >= x | any
      baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
      min_volume: 20              # calls in the window before a rate means anything
      min_count: 5                # matching events in the window
      min_value: 0.05             # absolute floor on the value itself
      group_by: [app]             # app, model, prompt_version, tool, tenant
      type: capability_loss
      severity: P2
      recovery: 2                 # optional: a firing group resolves only past this (ratio < 2)
      recover_after: 15m          # optional: ... and once clear this long (0: at once)

Hysteresis (a monitor at its threshold must not fire, resolve, fire...): a group fires as soon as
the condition holds, and resolves only once it has been clear for `recover_after` (default 15
minutes; Prometheus' `keep_firing_for`), where "clear" is judged against
`recovery` when set (Datadog's recovery threshold: below it for `>=` conditions, above it for a
drop's `<=`) and against the condition itself otherwise.

An entry of the YAML section whose name is a default's replaces the fields it sets (so
`- {name: refusal_rate, enabled: false}` turns one off); other names add monitors.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from fireline.config_keys import ConfigError, describe, unknown_key
from fireline.detect.monitor_defaults import DEFAULTS
from fireline.durations import parse_minutes
from fireline.signals import SEVERITIES

GROUP_KEYS = ("app", "model", "alias", "route", "prompt_version", "tool", "tenant")
COHORT_KEY = "cohort"  # the X-Fireline-Cohort header (metadata "cohort"): always declared
SIGNALS = ("findings", "calls", "errors", "cost", "latency", "reports", "distribution")
FEATURES = ("output_tokens", "output_language", "output_script", "input_tokens", "input_language", "input_topic")
REPORT_KINDS = ("harmful", "wrong", "leak", "other", "thumbs_down")
TYPES = (
    "harmful_output", "policy_bypass", "data_leakage", "hallucination", "agentic_harm", "prompt_injection",
    "bias", "quality_degradation", "capability_loss", "cost_runaway", "distribution_shift", "data_poisoning",
    "model_extraction", "availability",
)  # fmt: skip
# Monitors of what the model answered (its quality, length, language, latency, and what users ask of
# it) leave out the calls Fireline's containment or a guardrail answered instead (a kill switch's
# fallback, a rate limit's 429, a blocked answer): those say nothing about the model or its users'
# questions, and a kill switch would otherwise look like a drift of its own.
MODEL_TYPES = ("quality_degradation", "distribution_shift", "hallucination", "capability_loss", "bias")
CONTAINED_STATUSES = ("contained", "blocked")
RECOVER_AFTER_DEFAULT = 15  # minutes a firing group's condition stays clear before it resolves
RECOVER_AFTER_MAX = 7 * 24 * 60
Aggregate = Literal["rate", "count", "sum", "p99", "mean", "psi", "js", "disparity"]

_CONDITION = re.compile(r"^\s*(?:(any)|(ratio|value)\s*(>=|<=)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?))\s*$")


class Condition(BaseModel):
    model_config = ConfigDict(frozen=True)

    op: Literal["any", "ratio_ge", "ratio_le", "value_ge", "value_le"]
    threshold: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Condition:
        m = _CONDITION.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"{text!r} is not a condition: use 'any', 'ratio >= 3', 'ratio <= 0.2' or 'value >= 0.3'")
        if m.group(1):
            return cls(op="any")
        what, cmp, number = m.group(2), m.group(3), float(m.group(4))
        if what == "ratio" and number <= 0:
            raise ValueError(f"{text!r}: a ratio must be above 0")
        return cls(op=f"{what}_{'ge' if cmp == '>=' else 'le'}", threshold=number)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.op == "any":
            return "any"
        what, cmp = self.op.split("_")
        return f"{what} {'>=' if cmp == 'ge' else '<='} {self.threshold:g}"


class Baseline(BaseModel):
    """The trailing baseline and the fallback used while history is too thin (see docs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(7, ge=0, le=31)  # 0: always the fixed `default`
    default: float = Field(0.0, ge=0)  # the fixed rate / value per window without history
    floor: float = Field(0.0, ge=0)  # never compare against less than this
    min_volume: int = Field(100, ge=0)  # calls in the history before it is trusted


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    location: tuple[str, ...] = ()
    min_severity: Literal["P0", "P1", "P2", "P3"] = "P3"
    report_kind: tuple[str, ...] = ()
    status: tuple[str, ...] = ("error",)

    @field_validator("detector", "kind", "location", "report_kind", "status", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @field_validator("report_kind")
    @classmethod
    def _report_kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if k not in REPORT_KINDS]
        if bad:
            raise ValueError(f"unknown report kinds {bad}; known: {list(REPORT_KINDS)}")
        return v


class Disparity(BaseModel):
    """How a disparity monitor compares one cohort's rate with the rest of its group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    across: str = COHORT_KEY  # the cohort attribute (a group_by key) whose values are compared
    measure: Literal["ratio", "difference"] = "ratio"  # cohort rate / rest rate, or cohort - rest
    min_sample: int = Field(30, ge=1)  # calls of the cohort and of the rest in the window
    alpha: float = Field(0.01, gt=0, lt=0.5)  # two-proportion z-test, one-sided


class MonitorDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    signal: Literal["findings", "calls", "errors", "cost", "latency", "reports", "distribution"]
    feature: Literal["output_tokens", "output_language", "output_script", "input_tokens", "input_language",
                     "input_topic"] | None = None  # distribution monitors: what is compared
    compare: Disparity | None = None  # disparity monitors
    where: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # only calls with these key values
    match: Match = Field(default_factory=Match)
    aggregate: Aggregate | None = None  # derived from the signal when absent
    window: int = 10  # minutes
    condition: Condition
    baseline: Baseline = Field(default_factory=Baseline)
    min_volume: int = Field(0, ge=0)
    min_count: int = Field(1, ge=0)
    min_value: float = Field(0.0, ge=0)
    group_by: tuple[str, ...] = ("app",)  # GROUP_KEYS or a declared cohort attribute
    type: str
    severity: Literal["P0", "P1", "P2", "P3"]
    repeat: int | None = None  # minutes between re-fires while firing; default: the window
    recovery: float | None = Field(None, ge=0)  # the threshold a firing group must cross back to clear
    recover_after: int | None = None  # minutes clear before a firing group resolves; default below
    title: str | None = None
    enabled: bool = True

    @field_validator("window", "repeat", mode="before")
    @classmethod
    def _minutes(cls, v: Any) -> Any:
        return None if v is None else parse_minutes(v)

    @field_validator("recover_after", mode="before")
    @classmethod
    def _recover_after(cls, v: Any) -> Any:
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool) and v == 0) or \
                (isinstance(v, str) and v.strip() in ("0", "0s", "0m", "0h")):
            return None if v is None else 0  # 0: resolve as soon as the condition is clear
        return parse_minutes(v, longest_minutes=RECOVER_AFTER_MAX)

    @field_validator("recovery")
    @classmethod
    def _recovery(cls, v: float | None, info: ValidationInfo) -> float | None:
        cond = info.data.get("condition")
        if v is None or not isinstance(cond, Condition):
            return v
        if cond.op == "any":
            raise ValueError("a recovery threshold needs a threshold condition (not `any`): "
                             "use recover_after to hold an `any` monitor firing")
        what = cond.op.split("_")[0]
        if cond.op.endswith("_ge") and v > cond.threshold:
            raise ValueError(f"{v:g} must be at most the condition's threshold ({cond}): a firing group "
                             f"clears once the {what} falls below it")
        if cond.op.endswith("_le") and v < cond.threshold:
            raise ValueError(f"{v:g} must be at least the condition's threshold ({cond}): a firing group "
                             f"clears once the {what} rises above it")
        return v

    @field_validator("condition", mode="before")
    @classmethod
    def _condition(cls, v: Any) -> Any:
        return Condition.parse(v) if isinstance(v, str) else v

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in TYPES:
            raise ValueError(f"unknown incident type {v!r}; known: {list(TYPES)}")
        return v

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {k: (x,) if isinstance(x, str) else x for k, x in v.items()}

    @model_validator(mode="after")
    def _aggregate(self) -> MonitorDef:
        if self.aggregate is None:
            derived = {"findings": "rate", "errors": "rate", "calls": "count", "cost": "sum",
                       "latency": "p99", "reports": "count", "distribution": "psi"}[self.signal]
            if self.compare is not None:
                derived = "disparity"
            object.__setattr__(self, "aggregate", derived)
        if (self.signal == "distribution") != (self.feature is not None):
            raise ValueError("a distribution monitor names its feature (and only it does): "
                             f"one of {list(FEATURES)}")
        if self.signal == "distribution" and self.aggregate not in ("psi", "js", "mean"):
            raise ValueError("a distribution is aggregated as psi, js or mean")
        if self.aggregate in ("psi", "js", "mean") and self.signal != "distribution":
            raise ValueError(f"aggregate {self.aggregate} needs signal: distribution")
        if (self.aggregate == "disparity") != (self.compare is not None):
            raise ValueError("a disparity monitor has `compare: {across: <cohort attribute>}` and aggregate disparity")
        if self.compare is not None:
            if self.signal not in ("findings", "errors", "reports"):
                raise ValueError("a disparity compares a rate: signal findings, errors or reports")
            if self.compare.across not in self.group_by:
                raise ValueError(f"compare.across {self.compare.across!r} must be one of group_by")
        if self.signal == "latency" and self.aggregate != "p99":
            raise ValueError("the latency signal is aggregated as p99")
        if self.signal in ("cost",) and self.aggregate != "sum":
            raise ValueError("the cost signal is aggregated as sum")
        return self

    @property
    def agg(self) -> Aggregate:
        assert self.aggregate is not None
        return self.aggregate

    @property
    def answers_only(self) -> bool:
        """Whether calls with a CONTAINED_STATUSES status are left out (numerator and calls)."""
        return self.signal in ("distribution", "latency") or self.type in MODEL_TYPES

    @property
    def repeat_minutes(self) -> int:
        return self.repeat or self.window

    @property
    def recover_minutes(self) -> int:
        """How long the condition stays clear before a firing group resolves."""
        return RECOVER_AFTER_DEFAULT if self.recover_after is None else self.recover_after

    def public(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True)
        out["condition"] = str(self.condition)
        out["window"] = f"{self.window}m"
        out["repeat"] = f"{self.repeat_minutes}m"
        out["recover_after"] = f"{self.recover_minutes}m"
        return out


def cohort_attributes(section: Any) -> tuple[str, ...]:
    """The declared cohort attributes (`cohorts: {attributes: [...]}` or a list): metadata keys that
    monitors may group or filter by. `cohort` (the X-Fireline-Cohort header) is always declared."""
    attrs = section.get("attributes") if isinstance(section, dict) else section
    if attrs is None:
        attrs = []
    if not isinstance(attrs, list) or not all(isinstance(a, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", a)
                                              for a in attrs):
        raise ConfigError("cohorts.attributes: a list of metadata key names (letters, digits, _ . -)")
    clash = [a for a in attrs if a in GROUP_KEYS]
    if clash:
        raise ConfigError(f"cohorts.attributes: {clash} are built-in keys already")
    return tuple(dict.fromkeys([COHORT_KEY, *attrs]))


def check_keys(d: MonitorDef, cohorts: tuple[str, ...], where: str) -> None:
    """Refuse group-by and filter keys that do not exist, naming the field (never silently ignored)."""
    known = [*GROUP_KEYS, *cohorts]
    for i, key in enumerate(d.group_by):
        if key not in known:
            raise ConfigError(f"{where}.group_by[{i}]: unknown key {key!r}; use one of {known} "
                              "(declare metadata keys under cohorts.attributes)")
    for key in d.where:
        if key not in known or key == "tool":
            raise ConfigError(f"{where}.where.{key}: unknown key {key!r}; use one of "
                              f"{[k for k in known if k != 'tool']} (declare metadata keys under cohorts.attributes)")


def load_monitors(section: list[dict[str, Any]] | None, defaults: list[dict[str, Any]] | None = None,
                  cohorts: tuple[str, ...] = (COHORT_KEY,)) -> list[MonitorDef]:
    """The defaults merged with the YAML section; a bad entry is a ConfigError naming its field."""
    merged: dict[str, dict[str, Any]] = {d["name"]: dict(d) for d in (DEFAULTS if defaults is None else defaults)}
    order = list(merged)
    if section is not None and not isinstance(section, list):
        raise ConfigError("monitors: must be a list of monitor definitions")
    for i, entry in enumerate(section or []):
        for key in entry if isinstance(entry, dict) else ():  # a misspelt `name` is named as such
            if key not in MonitorDef.model_fields:
                raise ConfigError(unknown_key(f"monitors[{i}]", key, MonitorDef.model_fields))
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"monitors[{i}].name: each monitor needs a name")
        name = entry["name"]
        if name in merged:
            merged[name] = {**merged[name], **entry}
        else:
            merged[name] = dict(entry)
            order.append(name)
    out: list[MonitorDef] = []
    for name in order:
        index = next((i for i, e in enumerate(section or []) if isinstance(e, dict) and e.get("name") == name), -1)
        try:
            out.append(MonitorDef.model_validate(merged[name]))
        except ValidationError as exc:
            raise ConfigError(describe(exc, f"monitors[{index}]" if index >= 0 else f"monitors.{name}",
                                       MonitorDef)) from exc
        check_keys(out[-1], cohorts, f"monitors[{index}]" if index >= 0 else f"monitors.{name}")
    return [m for m in out if m.enabled]


__all__ = ["FEATURES", "GROUP_KEYS", "SEVERITIES", "SIGNALS", "Condition", "MonitorDef",
           "cohort_attributes", "load_monitors", "parse_minutes"]
