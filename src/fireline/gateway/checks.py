"""What the gateway checks before it forwards a request: everything it will log must be storable.

A request the log could not store is refused here with a 400 in OpenAI's error shape naming
the field (`param`), before the upstream is called, so the caller hears about it and one bad
request never fails the write batch of others. The limits are the call record's (CallIn).
"""

from __future__ import annotations

from typing import Any

from fireline.calls.schemas import CallIn
from fireline.validation import MAX_DEPTH, first_problem, text_problem

# request header -> (call record field, the field's length limit)
ATTRIBUTION = {
    b"x-fireline-app": "app", b"x-fireline-user": "user", b"x-fireline-tenant": "tenant",
    b"x-fireline-session": "session_id", b"x-fireline-prompt-version": "prompt_version",
    b"x-fireline-environment": "environment",
}
COHORT_MAX = 200
RETRIEVAL_MAX = 8192
ROUTE_MAX = 200
ROLE_MAX = 64


def _limit(field: str) -> int:
    for meta in CallIn.model_fields[field].metadata:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    raise KeyError(field)


LIMITS = {header: _limit(field) for header, field in ATTRIBUTION.items()}
LIMITS[b"x-fireline-cohort"] = COHORT_MAX
LIMITS[b"x-fireline-retrieval"] = RETRIEVAL_MAX
LIMITS[b"x-fireline-route"] = ROUTE_MAX
MODEL_MAX = _limit("model")
USER_MAX = _limit("user")


class BadRequest(Exception):
    """400 invalid_request_error naming `param`."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, f"{param}: {message}"


def header_text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    """A Fireline header as text, or BadRequest naming it (not UTF-8, too long, NUL)."""
    raw = headers.get(name)
    if not raw:
        return None
    label = name.decode()
    try:
        value = raw.decode()
    except UnicodeDecodeError:
        raise BadRequest(label, "header is not valid UTF-8") from None
    limit = LIMITS.get(name, 1000)
    if len(value) > limit:
        raise BadRequest(label, f"header is longer than {limit} characters")
    reason = text_problem(value)
    if reason:
        raise BadRequest(label, reason)
    return value


def check_body(body: dict[str, Any]) -> None:
    """The parts of a chat completion request the call record keeps, checked as the record
    will check them, and the whole body for values the engines refuse."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model", "must be a string")
    if isinstance(model, str) and len(model) > MODEL_MAX:
        raise BadRequest("model", f"is longer than {MODEL_MAX} characters")
    user = body.get("user")
    if isinstance(user, str) and len(user) > USER_MAX:
        raise BadRequest("user", f"is longer than {USER_MAX} characters")
    messages = body["messages"]
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}]", "must be an object with a role")
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise BadRequest(f"messages[{i}].role", "must be a non-empty string")
        if len(role) > ROLE_MAX:
            raise BadRequest(f"messages[{i}].role", f"is longer than {ROLE_MAX} characters")
        content = message.get("content")
        if not (content is None or isinstance(content, str)
                or (isinstance(content, list) and all(isinstance(part, dict) for part in content))):
            raise BadRequest(f"messages[{i}].content", "must be a string, a list of content parts or null")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise BadRequest("tools", "must be a list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("function", {}), dict):
                raise BadRequest(f"tools[{i}]", "must be an object whose function is an object")
    problem = first_problem(body, max_depth=MAX_DEPTH)
    if problem is not None:
        raise BadRequest(*problem)
