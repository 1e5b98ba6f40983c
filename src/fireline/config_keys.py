"""Unknown keys in FIRELINE_CONFIG, and config errors as one line naming the field.

A key nobody reads is almost always a typo (`sevrity:`, `min_confidense:`) that silently turns a
setting off; every part therefore refuses keys it does not know, with the path of the key and the
known key it most resembles: `policies[2].sevrity: unknown key; did you mean severity?`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from fireline.validation import join_path

__all__ = ["EXTENSION_PREFIX", "SECTIONS", "ConfigError", "Kind", "check_keys", "check_section", "describe",
           "field_path", "unknown_key"]


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


# What a plain tunable may hold (check_section): a number > 0, true/false, text, a list, a mapping.
Kind = Literal["positive", "bool", "text", "list", "mapping"]
_KIND_TEXT = {"positive": "a number above 0", "bool": "true or false", "text": "text", "list": "a list",
              "mapping": "a mapping"}


def _fits(value: Any, kind: Kind) -> bool:
    if kind == "positive":
        return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                and value > 0)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "text":
        return isinstance(value, str)
    return isinstance(value, list if kind == "list" else dict)


def check_section(section: Any, known: Mapping[str, Kind], where: str) -> None:
    """A section of plain tunables: absent, or a mapping of known keys, each holding its kind of
    value (ConfigError naming the field). Values are checked here because the parts read them
    later, some per request, where a `float("fast")` would be a crash instead of a message."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: must be a mapping of {', '.join(sorted(known))}")
    check_keys(section, known, where)
    for key, value in section.items():
        if value is not None and not _fits(value, known[key]):
            raise ConfigError(f"{where}.{key}: must be {_KIND_TEXT[known[key]]}, not {str(value)[:40]!r}")


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
    steps such as function-after[...] left out; '' for the top level)."""
    parts: list[str | int] = [p for p in loc if isinstance(p, int) or "[" not in str(p)]
    return join_path(where, parts) if where or parts else ""


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
