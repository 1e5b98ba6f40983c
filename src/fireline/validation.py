"""Values the storage engines refuse, caught before anything reaches SQL.

PostgreSQL rejects a NUL character in text and in JSON (`\\u0000`), lone UTF-16 surrogates
cannot be encoded as UTF-8 at all, BIGINT columns and orjson stop at 64 bits, and JSON nesting
past a few hundred levels overflows the encoders. A request carrying any of these is refused
with a 422 that names the field (`calls[3].input[0].content`), so a database server never logs
a failed statement with prompt content in it, and one odd record never fails its batch.

`check_json` walks a parsed JSON value once; `first_problem` is the same walk returning the
problem instead of raising; `clean_text` makes text from a party that cannot be told "no" (an
upstream model's answer) storable by replacing what the engines refuse. `guard_statements` is the
last line, on every engine `fireline.db` makes: it checks each statement's parameters.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from itertools import chain, compress, repeat
from operator import is_
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import ARRAY, BigInteger, Integer, TypeDecorator, event
from sqlalchemy.engine import Engine

from fireline.errors import Invalid

MAX_DEPTH = 64  # JSON nesting accepted anywhere (a tool's JSON schema rarely passes 15)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = "\x00"


class Unstorable(Invalid):
    """A value the database cannot store (422, naming the field)."""


def text_problem(s: str) -> str | None:
    if _NUL in s:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not s.isascii() and _has_surrogate(s):
        return "contains a lone UTF-16 surrogate, which is not valid Unicode text"
    return None


def _has_surrogate(s: str) -> bool:
    """Whether `s` holds a code point U+D800-U+DFFF, which the strict UTF encoders refuse. Text of
    Latin-1 code points only (one byte each) cannot hold one: encoding it to Latin-1 is a copy;
    other text is encoded to UTF-16 (for two-byte text, a copy that checks each unit). Both run
    in C several times faster than a regex search for the range (a batch's statement binds
    hundreds of KB of text: the search was ~15 % of the instructions of storing a call)."""
    try:
        s.encode("latin-1")
        return False
    except UnicodeEncodeError:
        pass
    try:
        s.encode("utf-16-le")
        return False
    except UnicodeEncodeError:
        return True


def _walk(value: Any, depth: int, max_depth: int) -> tuple[list[str | int], str] | None:
    """(path to the offending value, innermost last but built reversed, reason) or None."""
    if isinstance(value, str):
        reason = text_problem(value)
        return ([], reason) if reason else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return None
        return [], "is outside the 64-bit integer range"
    if isinstance(value, float):
        return None if math.isfinite(value) else ([], "must be a finite number")
    if isinstance(value, dict):
        if depth >= max_depth:
            return [], f"is nested more than {max_depth} levels deep"
        for key, item in value.items():
            if isinstance(key, str):
                reason = text_problem(key)
                if reason:
                    return [key], f"has a key that {reason}"
            found = _walk(item, depth + 1, max_depth)
            if found is not None:
                found[0].append(str(key))
                return found
        return None
    if isinstance(value, list | tuple):
        if depth >= max_depth:
            return [], f"is nested more than {max_depth} levels deep"
        for i, item in enumerate(value):
            found = _walk(item, depth + 1, max_depth)
            if found is not None:
                found[0].append(i)
                return found
        return None
    return None  # other types are for the schema to judge


def join_path(prefix: str, parts: list[str | int]) -> str:
    """'calls[3]' + ['input', 0, 'content'] -> 'calls[3].input[0].content'."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def first_problem(value: Any, field: str = "", *, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """(field path, reason) of the first value the engines refuse, or None."""
    found = _walk(value, 0, max_depth)
    if found is None:
        return None
    parts, reason = found
    parts.reverse()
    return join_path(field, parts), reason


def check_json(value: Any, field: str = "", *, max_depth: int = MAX_DEPTH) -> None:
    """Raise Unstorable naming the field when `value` holds something the engines refuse."""
    problem = first_problem(value, field, max_depth=max_depth)
    if problem is not None:
        where, reason = problem
        raise Unstorable(f"{where}: {reason}", field=where)


def in_utc_range(value: datetime) -> datetime:
    """A time the database can store: its UTC instant within the years 1-9999 (9999-12-31T23:00-12:00
    is in year 10000 in UTC, which neither engine's driver can bind)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the years 1-9999 once converted to UTC") from None
    return value


# The type of every time a request carries (bodies and query parameters): a 422 naming the field.
Instant = Annotated[datetime, AfterValidator(in_utc_range)]


def not_blank(value: str) -> str:
    """The value, unless it is empty or only whitespace (a name or title nobody can read)."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty or only whitespace")
    return value


# The type of a name, title, reason or text a request must carry: a 422 naming the field when blank.
NonBlank = Annotated[str, AfterValidator(not_blank)]


def check_text(value: str, field: str) -> None:
    reason = text_problem(value)
    if reason:
        raise Unstorable(f"{field}: {reason}", field=field)


def clean_text(value: str) -> str:
    """The text with NUL and lone surrogates replaced by U+FFFD (for answers we must store)."""
    if _NUL in value:
        value = value.replace(_NUL, "\ufffd")
    if not value.isascii() and _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def clean_json(value: Any, depth: int = 0, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of `value` the engines accept: text cleaned, big integers as strings, non-finite
    numbers as null, nesting past `max_depth` cut to a marker string."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if INT_MIN <= value <= INT_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list | tuple) and depth >= max_depth:
        return f"[nested deeper than {max_depth} levels: cut]"
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v, depth + 1, max_depth) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth + 1, max_depth) for v in value]
    return clean_text(str(value))


def bounded_int(value: Any) -> int | None:
    """An integer the engines store (token counts from an upstream), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= INT_MAX else None


# ---- the last line: every statement's parameters, before they reach the engine ----

# Execution option of driver-level SQL: (parameter names in order, {name: integer bounds}).
GUARD_LAYOUT = "fireline_guard_layout"
_SUFFIX = re.compile(r"__\d+$")  # insertmanyvalues names a row's parameters `column__<row>`
INT32 = 2**31 - 1


def int_bounds(kind: Any) -> tuple[int, int] | None:
    """The integers a column or parameter type stores (INTEGER vs BIGINT; an array's are its
    items'), None for other types."""
    while isinstance(kind, TypeDecorator | ARRAY):
        kind = kind.impl_instance if isinstance(kind, TypeDecorator) else kind.item_type
    if isinstance(kind, BigInteger):
        return INT_MIN, INT_MAX
    if isinstance(kind, Integer):
        return -INT32 - 1, INT32
    return None


def _limits(context: Any) -> dict[str, tuple[int, int]]:
    """Integer bounds per bound parameter of a compiled statement."""
    compiled = getattr(context, "compiled", None)
    binds = getattr(compiled, "binds", None) or {}
    return {name: bounds for name, bind in binds.items() if (bounds := int_bounds(bind.type)) is not None}


def _problem(value: Any, name: str, limits: dict[str, tuple[int, int]]) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = limits.get(_SUFFIX.sub("", name), (INT_MIN, INT_MAX))
        return None if low <= value <= high else "is outside the column's integer range"
    if isinstance(value, list):  # an array parameter (PostgreSQL): its items are the column's values
        return next((p for p in (_problem(v, name, limits) for v in value) if p), None)
    return None


def _check_params(params: Any, limits: dict[str, tuple[int, int]], names: list[str]) -> None:
    if isinstance(params, dict):
        items: Any = params.items()
    else:  # positional (SQLite): names from the compiled statement, repeated per VALUES row
        width = len(names)
        items = ((names[i % width] if width else f"parameter {i}", v) for i, v in enumerate(params or ()))
    for name, value in items:
        reason = _problem(value, name, limits)
        if reason:
            column = _SUFFIX.sub("", name)
            raise Unstorable(f"{column}: {reason}", field=column)


def _rows(parameters: Any) -> Any:
    """The parameter sets of one execution: executemany passes rows; insertmanyvalues passes one
    flat batch even with executemany set."""
    if isinstance(parameters, list | tuple) and isinstance(parameters[0], dict | list | tuple):
        return parameters
    return (parameters,)


def _values(rows: Any) -> list[Any]:
    """Every bound value of one execution, flat, array items included."""
    flat: list[Any] = []
    for row in rows:
        flat += row.values() if isinstance(row, dict) else row
    if any(issubclass(t, list) for t in set(map(type, flat))):
        flat = list(chain.from_iterable(v if isinstance(v, list) else (v,) for v in flat))
    return flat


def _suspect(values: list[Any]) -> bool:
    """False when no value can be refused: all text joined holds no NUL and no surrogate, and every
    integer fits the narrowest column (INTEGER). One pass in C instead of a check per value (a
    batch of calls binds thousands); True sends the execution to the check that names the column.
    The text and the integers are picked out by their exact types, each type's in one pass in C
    (`compress`), instead of an isinstance call per value: the same values, in another order."""
    types = list(map(type, values))
    text: list[str] = []
    ints: list[int] = []
    for kind in set(types):
        if issubclass(kind, str):
            text += compress(values, map(is_, types, repeat(kind)))
        elif issubclass(kind, int) and kind is not bool:  # True and False fit any integer column
            ints += compress(values, map(is_, types, repeat(kind)))
    if text and text_problem("".join(text)):
        return True
    return bool(ints) and (min(ints) < -INT32 - 1 or max(ints) > INT32)


def guard_statements(engine: Engine) -> None:
    """The last line: a parameter the engine would refuse (NUL, lone surrogate, integer out of
    the column's range) raises Unstorable before the statement is sent, so the server never
    logs a failed statement with content in it. Callers validate earlier, naming the field."""

    @event.listens_for(engine, "before_cursor_execute")
    def _guard(_conn: Any, _cursor: Any, _statement: str, parameters: Any, context: Any,
               _executemany: bool) -> None:
        if not parameters:
            return
        rows = _rows(parameters)
        if not _suspect(_values(rows)):
            return
        # A statement sent as driver SQL (fireline.bulk.BulkInsert on SQLite) names its positional
        # parameters and their integer bounds itself, as a compiled statement would.
        layout = context.execution_options.get(GUARD_LAYOUT) if context is not None else None
        if layout is not None:
            names, limits = list(layout[0]), layout[1]
        else:
            limits = _limits(context)
            names = list(getattr(getattr(context, "compiled", None), "positiontup", None) or ())
        for row in rows:
            _check_params(row, limits, names)
