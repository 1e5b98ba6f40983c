"""Whole minutes since the epoch as SQL, the bucket key of monitors and onsets, on both engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func


def minute_of(dialect: str, col: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", col), BigInteger) / 60
    return cast(func.floor(func.extract("epoch", col) / 60), BigInteger)
