"""Settings from the environment and the FIRELINE_CONFIG YAML file.

Environment variables are the CONTRACT of DESIGN.md; the YAML file declares apps, models,
prompts, tools and the tunables of each part. Every part reads its own section from
`Config` and refuses keys it does not know (`check_keys`, or a pydantic model with
extra="forbid"), so a typo fails the start naming its path instead of silently turning a
setting off. Top-level keys starting with `x-` are the one exception: ignored, for notes and
YAML anchors (docs/contributing.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fireline.config_keys import EXTENSION_PREFIX, SECTIONS, ConfigError, describe, unknown_key

DEFAULT_FALLBACK = "Our assistant is paused. A person will answer you shortly."
DRILL_APP = "drill"  # the app fire drills run as by default; its calls and incidents are drills
# The built-in drill app, so that every shipped drill scenario runs against a fresh `fireline serve`
# (a config that declares an app "drill" replaces it): a read-only support agent with a registry to
# roll back to (models, prompts), tool classes, and prices for its models.
DRILL_APP_CONFIG: dict[str, Any] = {
    "fallback": "The assistant is paused for a fire drill.",
    "models": ["drill-model", "drill-model-prev", "drill-model-old"],
    "prompts": {"v13": "You are the drill assistant (v13).", "v12": "You are the drill assistant (v12)."},
    "tools": {"issue_refund": "write", "lookup_order": "read"},
}
DRILL_PRICING = {"drill-model": {"input": 2.5, "output": 10.0}, "drill-model-prev": {"input": 2.5, "output": 10.0},
                 "drill-model-old": {"input": 2.5, "output": 10.0}}


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
    # How long a server start tries the database before it serves without it (tried every second;
    # PostgreSQL only: docs/reliability.md, "A server that starts while the database is away").
    db_start_probe_s: float = Field(5.0, ge=0)
    # Shared counters (rate limits, budgets, session limits) across workers and replicas; without it
    # they go through PostgreSQL when the database is PostgreSQL, else stay in this process.
    redis_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("a Redis URL starts with redis://, rediss:// or unix://")
        return value


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fallback: str = DEFAULT_FALLBACK
    models: list[str] = Field(default_factory=list)  # current first, then prior versions
    prompts: dict[str, str] = Field(default_factory=dict)
    tools: dict[str, Literal["read", "write"]] = Field(default_factory=dict)
    # On a cold start with no control state, SDK clients fail open (serve) or closed (fallback).
    fail_closed: bool = False
    # The public status page lists only apps declared public. Their state changes by decision: a
    # public update or `fireline status set`; with `public_status: automatic` also by itself for
    # incidents a person has confirmed (acknowledged or declared). Drills never change it.
    public: bool = False
    public_status: Literal["manual", "automatic"] = "manual"


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raw_retention_days: int = Field(30, ge=1)
    retention_days: int = Field(400, ge=1)
    retention_interval_s: float = Field(3600.0, gt=0)


class Config(BaseModel):
    """The FIRELINE_CONFIG file. The sections of SECTIONS stay in `model_extra` for their part to
    read and check; any other top-level key is an error unless it starts with `x-`."""

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

    @model_validator(mode="before")
    @classmethod
    def _known_sections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = (*cls.model_fields, *SECTIONS)
            for key in data:
                if key not in known and not (isinstance(key, str) and key.startswith(EXTENSION_PREFIX)):
                    # not a ValueError: pydantic lets it through as is, the message already whole
                    raise ConfigError(unknown_key("", key, known))
        return data

    @model_validator(mode="after")
    def _drill_app(self) -> Config:
        """The built-in drill app unless the file declares its own (see DRILL_APP_CONFIG): its
        agent is read-only (tool_policy forbids its write tools) and its models are priced."""
        if DRILL_APP in self.apps:
            return self
        self.apps[DRILL_APP] = AppConfig.model_validate(DRILL_APP_CONFIG)
        policy = dict(self.detectors.get("tool_policy") or {})
        forbid = list(policy.get("forbid_write") or [])
        if DRILL_APP not in forbid:
            policy["forbid_write"] = [*forbid, DRILL_APP]
            self.detectors["tool_policy"] = policy
        extra = self.model_extra if self.model_extra is not None else {}
        pricing = dict(extra.get("pricing") or {})
        for model, prices in DRILL_PRICING.items():
            pricing.setdefault(model, prices)
        extra["pricing"] = pricing
        return self

    def app(self, name: str) -> AppConfig:
        return self.apps.get(name) or AppConfig()

    def section(self, name: str) -> Any:
        """A section by name, typed or not (None when absent); `name` is a field or in SECTIONS."""
        if name not in SECTIONS and name not in type(self).model_fields:
            raise KeyError(f"config section {name!r} is not declared in fireline.config.SECTIONS")
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)


_STR, _INT, _FLOAT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_YAML11 = yaml.resolver.Resolver()  # how a YAML 1.1 writer (PyYAML's dumper) decides what to quote


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars: only true/false are booleans, so
    `on`, `off`, `yes`, `no`, `y`, `n` stay strings (YAML 1.1 read `on:` as the key True, which
    silently disabled a block pattern's `on: input`); 010 is ten, 1:20 is a string.

    A plain scalar is a number only where YAML 1.1 does not read it as a string: a 1.1 writer
    (PyYAML's `safe_dump`, which Fireline itself writes config with) leaves such strings unquoted,
    so `1e5`, `0E0`, `1.5e3`, `08`, `0o17` and `+.5` stay the strings a writer meant. Write
    `1.0e+5`, `1500.0`, `8`, `15` for numbers; a numeric field still accepts them (validated)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if (kind is yaml.ScalarNode and implicit[0] and tag in (_INT, _FLOAT)
                and _YAML11.resolve(kind, value, implicit) == _STR):
            return _STR
        return tag


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                                   list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    if value.startswith(("0o", "0x")):
        return int(value, 0)
    return int(value, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)


def _where(path: list[str]) -> str:
    out = ""
    for part in path:
        out += part if part.startswith("[") else (f".{part}" if out else part)
    return out or "(top level)"


def _check_keys(node: yaml.Node, path: list[str]) -> None:
    """Refuse what a mapping would silently lose: a key that is not a string, a repeated key."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                _check_keys(value, path)
                continue
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                shown = key.value if isinstance(key, yaml.ScalarNode) else "a collection"
                raise ConfigError(f"{_where(path)}: the key {shown!r} (line {key.start_mark.line + 1}) is not a "
                                  "string; quote it")
            if key.value in seen:
                raise ConfigError(f"{_where([*path, key.value])}: repeated key (line {key.start_mark.line + 1}); "
                                  "the later one would silently replace the first")
            seen.add(key.value)
            _check_keys(value, [*path, key.value])
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_keys(item, [*path, f"[{i}]"])


def load_yaml(text: str) -> Any:
    """Parse YAML as configuration (YAML 1.2 scalars; repeated or non-string keys refused with
    their path, as ConfigError). One loader for every YAML Fireline reads."""
    loader = Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_keys(node, [])
        return loader.construct_document(node)
    finally:
        loader.dispose()


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error as one line: where (1-based line and column) and what went wrong."""
    problem = getattr(exc, "problem", None)
    if not problem:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else str(problem)


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    try:
        raw = load_yaml(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {path} is not valid YAML: {yaml_problem(exc)}") from exc
    except ConfigError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"FIRELINE_CONFIG: {path} must hold a mapping at the top level")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {describe(exc, '', Config)}") from exc
    except ConfigError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The FIRELINE_ environment; a malformed variable is a ConfigError naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"FIRELINE_{str(first['loc'][0]).upper()}" if first["loc"] else "FIRELINE_*"
        raise ConfigError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None


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


def secret_path(settings: Settings | None = None) -> Path:
    """Where the key file is kept without FIRELINE_SECRET: FIRELINE_SECRET_FILE, else next to a
    SQLite database (`.fireline-secret` in its directory), else in FIRELINE_DATA_DIR, else in the
    user's data directory under a name of the database URL. Never relative to the working
    directory on its own: a server started elsewhere finds the same key."""
    configured = os.environ.get("FIRELINE_SECRET_FILE")
    if configured:
        return Path(configured)
    settings = settings or get_settings()
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):]).parent / ".fireline-secret"
    if settings.data_dir:
        return Path(settings.data_dir) / ".fireline-secret"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fireline"
    safe = re.sub(r"//[^@/]*@", "//", url)  # no password in the name
    return base / f"secret-{hashlib.sha256(safe.encode()).hexdigest()[:16]}"


def secret_source() -> str:
    """What the key came from, for messages: FIRELINE_SECRET or the key file's path."""
    return "FIRELINE_SECRET" if get_settings().secret else str(secret_path())


@lru_cache(maxsize=1)
def get_secret() -> bytes:
    """The root secret. Without FIRELINE_SECRET a key file is made once (0600), at `secret_path()`."""
    configured = get_settings().secret
    if configured:
        return configured.encode()
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path.read_text().strip().encode()
