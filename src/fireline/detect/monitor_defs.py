"""Monitor definitions: the declarative form (YAML `monitors:` section) and the shipped defaults.

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

An entry of the YAML section whose name is a default's replaces the fields it sets (so
`- {name: refusal_rate, enabled: false}` turns one off); other names add monitors.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fireline.config_keys import ConfigError, describe, unknown_key
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
    title: str | None = None
    enabled: bool = True

    @field_validator("window", "repeat", mode="before")
    @classmethod
    def _minutes(cls, v: Any) -> Any:
        return None if v is None else parse_minutes(v)

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

    def public(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True)
        out["condition"] = str(self.condition)
        out["window"] = f"{self.window}m"
        out["repeat"] = f"{self.repeat_minutes}m"
        return out


# The shipped monitors, in the same form as the YAML section (types per TAXONOMY.md).
DEFAULTS_YAML = """
- name: output_guardrail_blocks
  signal: findings
  match: {detector: [guardrail], kind: [output_block]}
  window: 10m
  condition: ratio >= 5
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P1
  title: "Output guardrail blocks at {ratio:.1f}x baseline on {group}"
- name: harmful_reports
  signal: reports
  match: {report_kind: [harmful]}
  window: 1h
  condition: ratio >= 2
  min_count: 3
  baseline: {days: 7, default: 0.5, floor: 0.5, min_volume: 200}
  type: harmful_output
  severity: P1
  title: "Harmful-content reports {value:g}/h ({ratio:.1f}x baseline) on {group}"
- name: pii_secret_leak
  signal: findings
  match: {detector: [pii, secrets], kind: [pii_leak, secret_leak], location: [output]}
  aggregate: count
  window: 15m
  condition: any
  type: data_leakage
  severity: P1
  title: "PII or secret leaked in output on {group}"
- name: canary_leak
  signal: findings
  match: {detector: [canary], kind: [canary_leak]}
  aggregate: count
  window: 15m
  condition: any
  type: data_leakage
  severity: P0
  title: "Another tenant's canary token served on {group}"
- name: tool_data_egress
  signal: findings
  match: {detector: [pii, secrets, canary], kind: [pii_egress, secret_egress, canary_egress], location: [tool]}
  aggregate: count
  window: 15m
  condition: any
  group_by: [app, tool]
  type: data_leakage
  severity: P1
  title: "Personal data, a secret or another tenant's data sent out through a tool call on {group}"
- name: harmful_output_rate
  signal: findings
  match: {detector: [harmful_output], location: [output]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: harmful_output
  severity: P1
  title: "Harmful content in {value:.0%} of answers ({ratio:.1f}x baseline) on {group}"
- name: jailbreak_compliance
  signal: findings
  match: {detector: [jailbreak]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.005, floor: 0.002, min_volume: 200}
  type: policy_bypass
  severity: P1
  title: "Answers going along with jailbreak attempts in {value:.0%} of calls ({ratio:.1f}x baseline) on {group}"
- name: injection_wave
  signal: findings
  match: {detector: [prompt_injection]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P2
  title: "Prompt-injection markers in {value:.0%} of calls ({ratio:.1f}x baseline) on {group}"
- name: ungrounded_citations
  signal: findings
  match: {detector: [grounding], kind: [ungrounded_citation]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: hallucination
  severity: P2
  title: "Answers citing documents never retrieved: {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: hallucination_rate
  signal: findings
  match: {detector: [grounding], kind: [unsupported_claim, contradicted_claim]}
  window: 1h
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.03, floor: 0.01, min_volume: 200}
  type: hallucination
  severity: P2
  title: "Answers asserting what the retrieved documents do not say: {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: tool_argument_anomaly
  signal: findings
  match: {detector: [tool_policy], kind: [argument_anomaly, forbidden_write, destructive_write]}
  aggregate: count
  window: 15m
  condition: any
  group_by: [app, tool]
  type: agentic_harm
  severity: P2
  title: "Tool call outside its policy or baseline on {group}"
- name: refusal_rate
  signal: findings
  match: {detector: [refusal]}
  window: 30m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: capability_loss
  severity: P2
  title: "Refusal rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: cost_per_hour
  signal: cost
  window: 1h
  condition: ratio >= 2
  min_count: 0
  min_value: 1.0
  baseline: {days: 7, default: 5.0, floor: 0.5, min_volume: 200}
  type: cost_runaway
  severity: P2
  title: "Cost ${value:.2f}/h is {ratio:.1f}x baseline on {group}"
- name: latency_p99
  signal: latency
  window: 10m
  condition: ratio >= 2
  min_volume: 20
  min_count: 0
  min_value: 1000
  baseline: {days: 7, default: 10000, floor: 200, min_volume: 200}
  type: availability
  severity: P2
  title: "p99 latency {value:.0f} ms is {ratio:.1f}x baseline on {group}"
- name: error_rate
  signal: errors
  match: {status: [error]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  min_value: 0.2
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: availability
  severity: P1
  title: "Error rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: thumbs_down_rate
  signal: reports
  match: {report_kind: [thumbs_down]}
  aggregate: rate
  window: 1h
  condition: ratio >= 2
  min_volume: 20
  min_count: 5
  min_value: 0.05
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: quality_degradation
  severity: P2
  title: "Thumbs-down rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: corrupted_output_rate
  signal: findings
  match: {detector: [output_quality], kind: [garbled_output, wrong_language]}
  window: 30m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  group_by: [app, model]
  type: quality_degradation
  severity: P2
  title: "Garbled or wrong-language answers {value:.1%} ({ratio:.1f}x baseline) on {group}"
- name: output_length
  signal: distribution
  feature: output_tokens
  aggregate: mean
  window: 30m
  condition: ratio >= 2
  min_volume: 20
  min_count: 0
  baseline: {days: 7, default: 0, floor: 1, min_volume: 200}
  group_by: [app, alias, prompt_version]
  type: quality_degradation
  severity: P2
  title: "Answers {ratio:.1f}x longer than baseline ({value:.0f} tokens) on {group}"
- name: output_length_drop
  signal: distribution
  feature: output_tokens
  aggregate: mean
  window: 30m
  condition: ratio <= 0.4
  min_volume: 20
  min_count: 0
  baseline: {days: 7, default: 0, floor: 1, min_volume: 200}
  group_by: [app, alias, prompt_version]
  type: quality_degradation
  severity: P2
  title: "Answers shrank to {ratio:.0%} of baseline length on {group}"
- name: output_language_shift
  signal: distribution
  feature: output_language
  window: 1h
  condition: value >= 0.25
  min_volume: 50
  min_count: 0
  baseline: {days: 7, min_volume: 300}
  group_by: [app, model]
  type: quality_degradation
  severity: P2
  title: "Answer language mix shifted (PSI {value:.2f}) on {group}"
- name: input_length_drift
  signal: distribution
  feature: input_tokens
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "Input length distribution shifted (PSI {value:.2f}) on {group}"
- name: input_language_drift
  signal: distribution
  feature: input_language
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "Input language mix shifted (PSI {value:.2f}) on {group}"
- name: input_topic_drift
  signal: distribution
  feature: input_topic
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "What users ask about shifted (topic PSI {value:.2f}) on {group}"
- name: semantic_jailbreak_wave
  signal: findings
  match: {detector: [semantic], kind: [jailbreak_like]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P2
  title: "Jailbreak-like messages {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: complaint_rate
  signal: findings
  match: {detector: [semantic], kind: [complaint]}
  window: 1h
  condition: ratio >= 2
  min_volume: 20
  min_count: 5
  min_value: 0.05
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: quality_degradation
  severity: P2
  title: "Users complain in {value:.0%} of messages ({ratio:.1f}x baseline) on {group}"
- name: refusal_disparity
  signal: findings
  match: {detector: [refusal]}
  compare: {across: cohort, measure: ratio, min_sample: 30, alpha: 0.01}
  window: 24h
  condition: ratio >= 2
  min_count: 5
  group_by: [app, cohort]
  type: bias
  severity: P2
  title: "Cohort refused {ratio:.1f}x as often as the rest ({value:.0%} vs {baseline:.0%}) on {group}"
- name: traffic_drop
  enabled: false
  signal: calls
  window: 10m
  condition: ratio <= 0.2
  min_count: 0
  baseline: {days: 7, default: 0, floor: 0, min_volume: 1000}
  type: availability
  severity: P2
  title: "Traffic on {group} dropped to {ratio:.0%} of baseline"
"""
DEFAULTS: list[dict[str, Any]] = yaml.safe_load(DEFAULTS_YAML)


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


__all__ = ["DEFAULTS", "FEATURES", "GROUP_KEYS", "SEVERITIES", "SIGNALS", "Condition", "MonitorDef",
           "cohort_attributes", "load_monitors", "parse_minutes"]
