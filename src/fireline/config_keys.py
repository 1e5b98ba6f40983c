"""Unknown keys in FIRELINE_CONFIG, and config errors as one line naming the field.

A key nobody reads is almost always a typo (`sevrity:`, `min_confidense:`) that silently turns a
setting off; every part therefore refuses keys it does not know, with the path of the key and the
known key it most resembles: `policies[2].sevrity: unknown key; did you mean severity?`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["EXTENSION_PREFIX", "SECTIONS", "ConfigError", "check_keys", "check_section", "describe", "field_path",
           "unknown_key"]


class ConfigError(Exception):
    """The config file or environment is invalid; the message names the field."""


EXTENSION_PREFIX = "x-"  # top-level keys Fireline ignores (notes, YAML anchors), as in Compose files
# The top-level sections parts read with `Config.section`, besides the typed fields of `Config`.
SECTIONS = ("alertmanager", "auth", "blast_radius", "cohorts", "comms", "controls", "evals", "gateway",
            "incidents", "ingest", "pagerduty", "policies", "pricing", "rule_alerts", "sessions", "upstreams")


def unknown_key(where: str, key: object, known: Iterable[str]) -> str:
    """`where.key: unknown key; did you mean <closest>?` (else the keys allowed there)."""
    names = sorted({str(k) for k in known})
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else ("known keys: " + ", ".join(names) if names else "none allowed")
    return f"{where + '.' if where else ''}{key}: unknown key; {hint}"


def check_keys(value: Any, known: Iterable[str], where: str) -> None:
    """Raise ConfigError naming the first key of the mapping `value` that is not in `known`."""
    if not isinstance(value, dict):
        return
    names = tuple(known)
    for key in value:
        if key not in names:
            raise ConfigError(unknown_key(where, key, names))


def check_section(section: Any, known: Iterable[str], where: str) -> None:
    """A section of plain tunables: absent, or a mapping of known keys (ConfigError naming the field)."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: must be a mapping of {', '.join(sorted(known))}")
    check_keys(section, known, where)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _has_dict(annotation: Any) -> bool:
    return get_origin(annotation) is dict or any(_has_dict(a) for a in get_args(annotation))


def _keys_at(model: type[BaseModel] | None, loc: Iterable[Any]) -> list[str]:
    """The keys the model allows at `loc` (field names and aliases), [] when it cannot tell."""
    current, mapping_key = model, False
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        if mapping_key:  # a name the user chose (an app, a channel): the same model below it
            mapping_key = False
            continue
        fields = current.model_fields
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return []
        mapping_key = _has_dict(field.annotation)
        models = _models_in(field.annotation)
        current = models[0] if models else None
    if current is None:
        return []
    return [*current.model_fields, *(f.alias for f in current.model_fields.values() if f.alias)]


def field_path(where: str, loc: Iterable[Any]) -> str:
    """'policies[2]' + ('deny_patterns', 0) -> 'policies[2].deny_patterns[0]' (pydantic's own
    steps such as function-after[...] left out)."""
    out = where
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" not in str(part):
            out += f".{part}" if out else str(part)
    return out


def describe(exc: ValidationError, where: str = "", model: type[BaseModel] | None = None) -> str:
    """The first error of a config model as one line naming its field; an unknown key says which
    known key it resembles."""
    errors = exc.errors()
    # a misspelt required key is also "missing": the unknown key is the one to name
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden" and loc:
        return unknown_key(field_path(where, loc[:-1]), loc[-1], _keys_at(model, loc[:-1]))
    path = field_path(where, loc)
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message
