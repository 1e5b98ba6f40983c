"""Settings from the environment and the FIRELINE_CONFIG YAML file.

Environment variables are the CONTRACT of DESIGN.md; the YAML file declares apps, models,
prompts, tools and the tunables of each part. Every part reads its own section from
`Config`; unknown sections are kept so a newer config still loads on an older server.
"""

from __future__ import annotations

import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_FALLBACK = "Our assistant is paused. A person will answer you shortly."


class ConfigError(Exception):
    """The config file or environment is invalid; the message names the field."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIRELINE_", extra="ignore")

    database_url: str = "sqlite:///./fireline.db"
    secret: str | None = None
    admin_token: str | None = None
    config: str | None = None
    upstream_url: str | None = None
    upstream_key: str | None = None
    url: str = "http://127.0.0.1:8700"
    token: str | None = None
    # Where the gateway's spool and other local state live (default: beside a SQLite database,
    # else ./fireline-data).
    data_dir: str | None = None
    db_connect_timeout_s: float = 3.0
    db_statement_timeout_s: float = 60.0


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    fallback: str = DEFAULT_FALLBACK
    models: list[str] = Field(default_factory=list)  # current first, then prior versions
    prompts: dict[str, str] = Field(default_factory=dict)
    tools: dict[str, Literal["read", "write"]] = Field(default_factory=dict)
    # On a cold start with no control state, SDK clients fail open (serve) or closed (fallback).
    fail_closed: bool = False


class PrivacyConfig(BaseModel):
    raw_retention_days: int = Field(30, ge=1)
    retention_days: int = Field(400, ge=1)
    retention_interval_s: float = Field(3600.0, gt=0)


class Config(BaseModel):
    """The FIRELINE_CONFIG file. Sections a part does not know stay in `model_extra`."""

    model_config = ConfigDict(extra="allow")

    apps: dict[str, AppConfig] = Field(default_factory=dict)
    privacy: PrivacyConfig = Field(default_factory=lambda: PrivacyConfig())
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    monitors: list[dict[str, Any]] | None = None
    playbooks: dict[str, Any] | None = None
    triage: dict[str, Any] | None = None
    sla: dict[str, Any] | None = None
    auto_contain: dict[str, Any] | None = None
    notifications: dict[str, Any] | None = None

    def app(self, name: str) -> AppConfig:
        return self.apps.get(name) or AppConfig()

    def section(self, name: str) -> Any:
        """A section by name, typed or not (None when absent)."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"FIRELINE_CONFIG: {path} must hold a mapping at the top level")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"FIRELINE_CONFIG: {where}: {first['msg']}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


@lru_cache(maxsize=1)
def get_config() -> Config:
    return load_config(get_settings().config)


def reset() -> None:
    """Forget cached settings and config (tests and `serve` reloads)."""
    get_settings.cache_clear()
    get_config.cache_clear()
    get_secret.cache_clear()


def data_dir(settings: Settings | None = None) -> Path:
    """Local state of this server (the gateway's spool, the key-revocation epoch): FIRELINE_DATA_DIR,
    else the directory of a SQLite database, else ./fireline-data. Created when missing."""
    settings = settings or get_settings()
    if settings.data_dir:
        path = Path(settings.data_dir)
    elif settings.database_url.startswith("sqlite:///") and settings.database_url != "sqlite:///:memory:":
        path = Path(settings.database_url[len("sqlite:///"):]).parent
    else:
        path = Path("fireline-data")
    path.mkdir(parents=True, exist_ok=True)
    return path


@lru_cache(maxsize=1)
def get_secret() -> bytes:
    """The root secret. Without FIRELINE_SECRET a local key file is made once (0600)."""
    configured = get_settings().secret
    if configured:
        return configured.encode()
    path = Path(os.environ.get("FIRELINE_SECRET_FILE", ".fireline-secret"))
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path.read_text().strip().encode()
