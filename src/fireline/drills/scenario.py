"""A drill scenario is data: YAML shipped in the package, or a file of the team's own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fireline.config import ConfigError, load_yaml, yaml_problem
from fireline.errors import Invalid, NotFound


class CorpusRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str  # pair | xstest | truthfulqa | jbc
    field: str | None = None
    label: str | None = None
    jailbroken: bool | None = None
    limit: int = Field(50, ge=1, le=1000)
    suffix: str = ""


class Fault(BaseModel):
    """What the gateway's inject control answers for the drill cohort."""

    model_config = ConfigDict(extra="forbid")

    outputs: list[str] = Field(default_factory=list)
    corpus: CorpusRef | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    cost_usd: float | None = None


class Traffic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: int = Field(12, ge=1, le=10_000)
    rate: float = Field(20.0, gt=0, le=1000)
    prompts: list[str] = Field(default_factory=lambda: ["support"])
    corpus: CorpusRef | None = None
    tools: list[str] = Field(default_factory=list)
    retrieval: list[str] = Field(default_factory=list)


class Harm(BaseModel):
    """How a probe tells that the harm still reaches users."""

    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(default_factory=list)
    detector: str | None = None
    tool: str | None = None
    cost_over: float | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: str
    expect: dict[str, list[str]] = Field(default_factory=dict)
    canary: dict[str, str] | None = None
    tools: dict[str, str] = Field(default_factory=dict)
    fault: Fault
    traffic: Traffic = Field(default_factory=Traffic)
    harm: Harm = Field(default_factory=Harm)

    @property
    def expected_types(self) -> list[str]:
        return self.expect.get("types", [])


def builtin_names() -> list[str]:
    folder = resources.files("fireline.drills") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
    else:
        res = resources.files("fireline.drills") / "scenarios" / f"{name_or_path}.yaml"
        if not res.is_file():
            raise NotFound(f"no scenario {name_or_path!r}; shipped: {', '.join(builtin_names())}")
        text = res.read_text()
    try:
        return Scenario.model_validate(load_yaml(text))
    except yaml.YAMLError as exc:
        raise Invalid(f"scenario {name_or_path}: not valid YAML: {yaml_problem(exc)}") from exc
    except ValidationError as exc:  # the first problem, named by its path
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "scenario"
        raise Invalid(f"scenario {name_or_path}: {where}: {first['msg']}") from exc
    except ConfigError as exc:
        raise Invalid(f"scenario {name_or_path}: {exc}") from exc
