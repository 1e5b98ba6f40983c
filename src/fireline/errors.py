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
