"""Policies: a team's own rules per app, declared in the `policies:` section of FIRELINE_CONFIG.

    policies:
      - name: no-competitors
        app: dealer-bot                # "*" for every app
        target: output                 # input | output | tool_arguments
        deny_terms: [Ford, Tesla]      # whole words, case-insensitive, simple inflections
        type: policy_bypass            # a TAXONOMY.md type
        severity: P1
        action: block                  # flag | block | redact

Conditions (at least one): `deny_terms`, `deny_patterns` (RE2), `allow_patterns` (RE2: the
value must match one), `allow_values` (exact, case-insensitive), `allow_domains` (an e-mail
address's or URL's host must be one of them or a subdomain), `min`/`max` (numeric bounds on
an argument), `detectors` (findings of these detectors or categories on the target, which
also switches on detector categories that are off unless a policy asks for them, such as a
profanity category). `tool` and `argument` narrow a tool_arguments rule. This module loads
and validates the section; `policy_match` compiles and evaluates it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fireline.config_keys import ConfigError, describe
from fireline.detect.monitor_defs import TYPES

try:
    import re2
except ImportError:  # pragma: no cover - the wheel exists for the supported platforms
    re2 = None

TARGETS = ("input", "output", "tool_arguments")
ACTIONS = ("flag", "block", "redact")
LOCATIONS = {"input": "input", "output": "output", "tool_arguments": "tool"}


def re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported once, as a config error
    return options


def compile_re2(pattern: str) -> Any:
    """An RE2 regex (linear time: a policy pattern can never backtrack on hostile text)."""
    if re2 is None:  # pragma: no cover
        return re.compile(pattern)
    return re2.compile(pattern, re2_options())


def _str_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class PolicyRule(BaseModel):
    """One declared rule. Unknown keys are refused, so a typo never silently disables a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.-]+$")
    app: str = Field(min_length=1, max_length=200)
    target: Literal["input", "output", "tool_arguments"]
    tool: tuple[str, ...] = ()
    argument: str | None = Field(None, min_length=1, max_length=200)
    deny_terms: tuple[str, ...] = ()
    deny_patterns: tuple[str, ...] = ()
    allow_patterns: tuple[str, ...] = ()
    allow_values: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    detectors: tuple[str, ...] = ()
    type: str
    severity: Literal["P0", "P1", "P2", "P3"]
    action: Literal["flag", "block", "redact"] = "flag"
    title: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=2000)
    enabled: bool = True

    @field_validator("tool", "deny_terms", "deny_patterns", "allow_patterns", "allow_values", "allow_domains",
                     "detectors", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return _str_list(v)

    @field_validator("deny_terms", "allow_values", "allow_domains", "tool", "detectors")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(" ".join(str(x).split()) for x in v)
        if any(not x for x in cleaned):
            raise ValueError("entries must be non-empty strings")
        return cleaned

    @field_validator("deny_patterns", "allow_patterns")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for i, pattern in enumerate(v):
            if not pattern:
                raise ValueError(f"pattern [{i}] is empty")
            try:
                compile_re2(pattern)
            except Exception as exc:
                detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
                raise ValueError(f"pattern [{i}] {pattern!r} is not valid RE2 ({detail}); RE2 has no "
                                 "backreferences or lookaround") from None
        return v

    @field_validator("allow_domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.lower().lstrip("@").lstrip(".") for d in v)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in TYPES:
            raise ValueError(f"unknown incident type {v!r}; one of {', '.join(TYPES)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> PolicyRule:
        if not (self.deny_terms or self.deny_patterns or self.allow_patterns or self.allow_values
                or self.allow_domains or self.min is not None or self.max is not None or self.detectors):
            raise ValueError("a policy needs a condition: deny_terms, deny_patterns, allow_patterns, "
                             "allow_values, allow_domains, min, max or detectors")
        if self.target != "tool_arguments" and (self.tool or self.argument):
            raise ValueError("tool and argument apply to target tool_arguments only")
        if (self.min is not None or self.max is not None) and self.target != "tool_arguments":
            raise ValueError("min and max bound a tool argument: use target tool_arguments")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if self.allow_values and self.target != "tool_arguments":
            raise ValueError("allow_values lists the values of a tool argument: use target tool_arguments")
        if self.action == "redact" and not (self.deny_terms or self.deny_patterns or self.detectors):
            raise ValueError("action redact removes what matched: it needs deny_terms, deny_patterns or detectors")
        return self

    @property
    def location(self) -> str:
        return LOCATIONS[self.target]

    @property
    def detector(self) -> str:
        """The detector name of this rule's findings."""
        return f"policy:{self.name}"

    def applies_to(self, app: str) -> bool:
        return self.app in ("*", app)


def load_policies(section: Any) -> list[PolicyRule]:
    """The enabled rules of the `policies` section; a bad entry is a ConfigError naming its field."""
    if section is None:
        return []
    if not isinstance(section, list):
        raise ConfigError("policies: must be a list of policy rules")
    rules: list[PolicyRule] = []
    seen: set[str] = set()
    for i, entry in enumerate(section):
        if not isinstance(entry, dict):
            raise ConfigError(f"policies[{i}]: each policy is a mapping with a name")
        try:
            rule = PolicyRule.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(describe(exc, f"policies[{i}]", PolicyRule)) from exc
        if rule.name in seen:
            raise ConfigError(f"policies[{i}].name: {rule.name!r} is declared twice; names identify findings")
        seen.add(rule.name)
        if rule.enabled:
            rules.append(rule)
    return rules


__all__ = ["ACTIONS", "LOCATIONS", "TARGETS", "PolicyRule", "compile_re2", "load_policies"]
