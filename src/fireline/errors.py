"""Domain errors. Parts raise subclasses; api.py maps each family to one HTTP status."""

from __future__ import annotations

from typing import Any


class FirelineError(Exception):
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(FirelineError):
    """The request names something malformed (400, or 422 for a field)."""

    status = 422


class NotFound(FirelineError, LookupError):
    status = 404


class Conflict(FirelineError):
    """The move is not allowed from the current state (409, naming the allowed ones)."""

    status = 409


class Forbidden(FirelineError):
    status = 403


def failure_summary(exc: BaseException) -> str:
    """What a failure is and where it happened (its type and the innermost frame's file and line),
    never its message: for code that reads a call's content, whose messages may quote it (a
    KeyError names its key), so the log line carries no content."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{where}"
