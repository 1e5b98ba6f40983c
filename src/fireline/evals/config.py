"""The `evals:` and `upstreams:` sections of FIRELINE_CONFIG.

    evals:
      close_requires_lock: true     # an incident closes only once its eval lock exists and passes
      max_failure_rate: 0.05        # the lock's default threshold (upper Wilson bound per case)
      confidence: 0.95
      max_cases: 20                 # regression cases taken from one incident
      concurrency: 8                # samples in flight per job (replay, server-side eval runs)
      replay: {n: 20, max_samples: 20000}
      verify: {window: 5m, min_calls: 20, settle_s: 0, auto: true, deadline: 60m, every_s: 10}
    upstreams:                      # named targets for replay and server-side runs (never a URL
      staging:                      # from the API: content goes only where the config says)
        url: http://staging-llm:9000/v1
        key_env: STAGING_LLM_KEY    # the key is read from this environment variable
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fireline.config import Config, get_settings
from fireline.config_keys import ConfigError, describe
from fireline.durations import parse_duration as duration
from fireline.evals.runner import MAX_CONCURRENCY, Target


class ReplayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(20, ge=1, le=10_000)
    max_samples: int = Field(20_000, ge=1)  # one job never sends more than this


class VerifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: timedelta = timedelta(minutes=5)  # new traffic the monitor must stay under its baseline for
    min_calls: int = Field(20, ge=1)
    settle_s: float = Field(0.0, ge=0)  # calls this soon after the pin are not judged (in-flight ones)
    auto: bool = True  # verify on its own after a model or prompt pin on an incident
    deadline: timedelta = timedelta(minutes=60)  # after the pin, an automatic verification gives up
    every_s: float = Field(10.0, gt=0, le=3600)  # how often the automatic verification looks

    @field_validator("window", "deadline", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return duration(v)


class EvalsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    close_requires_lock: bool = True
    max_failure_rate: float = Field(0.05, gt=0, lt=1)
    confidence: float = Field(0.95, ge=0.5, lt=1)
    max_cases: int = Field(20, ge=1, le=500)
    concurrency: int = Field(8, ge=1, le=MAX_CONCURRENCY)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)


class Upstream(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    key_env: str | None = None
    timeout_s: float = Field(120.0, gt=0)


def evals_config(config: Config) -> EvalsConfig:
    try:
        return EvalsConfig.model_validate(config.section("evals") or {})
    except ValidationError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {describe(exc, 'evals', EvalsConfig)}") from None


def upstreams(config: Config) -> dict[str, Upstream]:
    section = config.section("upstreams") or {}
    if not isinstance(section, dict):
        raise ConfigError("FIRELINE_CONFIG: upstreams: a mapping of name -> {url, key_env}")
    out = {}
    for name, spec in section.items():
        try:
            out[str(name)] = Upstream.model_validate(spec)
        except ValidationError as exc:
            raise ConfigError(f"FIRELINE_CONFIG: {describe(exc, f'upstreams.{name}', Upstream)}") from None
    return out


def resolve_upstream(config: Config, name: str | None, default_url: str | None,
                     default_key: str | None) -> Target:
    """The named upstream, or the gateway's own (FIRELINE_UPSTREAM_URL) for None / "default"."""
    from fireline.errors import Invalid

    if name in (None, "", "default"):
        url = default_url or get_settings().upstream_url
        if not url:
            raise Invalid("upstream: no upstream configured (FIRELINE_UPSTREAM_URL) and none named",
                          field="upstream")
        return Target(base_url=url.rstrip("/"), api_key=default_key or get_settings().upstream_key)
    named = upstreams(config)
    if name not in named:
        raise Invalid(f"upstream: {name!r} is not declared under `upstreams`; known: "
                      f"{', '.join(['default', *named])}", field="upstream")
    spec = named[name]
    return Target(base_url=spec.url.rstrip("/"), api_key=os.environ.get(spec.key_env) if spec.key_env else None,
                  timeout=spec.timeout_s)
