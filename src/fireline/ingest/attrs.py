"""OTLP AnyValue / KeyValue to plain Python values, with bounded depth and no surprises."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from typing import Any

import orjson

MAX_DEPTH = 8


def any_value(v: Any, depth: int = 0) -> Any:
    """An AnyValue as str/int/float/bool/list/dict/None (bytes become base64 text)."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "double_value":
        d = v.double_value
        return d if math.isfinite(d) else str(d)
    if depth >= MAX_DEPTH:
        return None
    if kind == "array_value":
        return [any_value(x, depth + 1) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return None


def attributes(kvs: Iterable[Any]) -> dict[str, Any]:
    """KeyValue list to a dict (the last of repeated keys wins). Hot path: a non-empty string
    value (most attributes) is read without WhichOneof, one upb crossing fewer."""
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        s = v.string_value
        out[kv.key] = s if s else any_value(v)
    return out


def as_str(value: Any, limit: int | None = None) -> str | None:
    """A scalar as text; lists and dicts as JSON; None and empty stay None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return text[:limit] if limit is not None else text


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**62 else None
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < 2**62:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
        return n if n < 2**62 else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def as_json(value: Any) -> Any:
    """A JSON string decoded (structured values pass through); undecodable text stays text."""
    if isinstance(value, str | bytes):
        s = value.strip() if isinstance(value, str) else value
        if s[:1] in ("[", "{", b"[", b"{"):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                return value
    return value


def as_list(value: Any) -> list[Any]:
    value = as_json(value)
    if isinstance(value, list):
        return value
    if value is None or value == "":
        return []
    return [value]
