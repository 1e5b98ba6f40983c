"""The OpenAPI document, made to say what the server really does.

FastAPI documents each route's success answer and its own 422 shape. Fireline answers errors in
one shape everywhere (`{"detail": ..., "field": ...}`, api.py), can answer 401/403 on every
route, 404 on ids, 409 on moves the state machine refuses, 413 on bodies over their bound and
503 while the database is away (and on ingest past its backlog bound); and it refuses text
holding a NUL character (the database cannot store it). This module adds all of that to the
generated document, so clients and contract tests (schemathesis, tests/reliability) can rely on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from fireline.validation import INT_MAX, INT_MIN

ERROR: dict[str, Any] = {
    "title": "Error", "type": "object",
    "description": "Every error answer: `detail` says what was wrong, `field` names the field when one was.",
    "properties": {"detail": {"title": "Detail"}, "field": {"type": "string", "title": "Field"},
                   "errors": {"type": "array", "title": "Errors", "items": {}}},
}
ERRORS = {
    "400": "The request is malformed (body not JSON, wrong shape).",
    "401": "No API key, or an invalid or revoked one.",
    "403": "The key's role is not enough for this.",
    "404": "No such resource.",
    "409": "Not allowed in the resource's current state.",
    "413": "The body is over its size limit.",
    "415": "The body's content type is not one this route reads.",
    "422": "A field is invalid; `field` names it.",
    "429": "Rate limited; see Retry-After.",
    "503": "The database is unavailable, or ingest is behind (ingest.max_wait_s); retry after Retry-After.",
}
NO_NUL = "^[^\\u0000]*$"  # the database cannot store a NUL character in text


def json_body(annotation: Any, *, required: bool = True, content_types: tuple[str, ...] = ("application/json",)
              ) -> dict[str, Any]:
    """`openapi_extra` documenting the JSON body of a route that reads its body itself (bounded
    reads, orjson): the schema of `annotation` (a model or a union), its definitions carried in
    `x-components` until `document` moves them into the components."""
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"requestBody": {"required": required,
                            "content": {ctype: {"schema": schema} for ctype in content_types}},
            "x-components": defs}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _constrain(node: Any) -> None:
    """Text without NUL, integers within 64 bits, wherever the document leaves them open."""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "string" and not any(k in node for k in ("pattern", "enum", "const", "format")):
            node["pattern"] = NO_NUL
        elif kind == "integer":
            node.setdefault("minimum", INT_MIN)
            node.setdefault("maximum", INT_MAX)
        for value in node.values():
            _constrain(value)
    elif isinstance(node, list):
        for value in node:
            _constrain(value)


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the error answers and text constraints added (cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                components.update(operation.pop("x-components", None) or {})
    _constrain(components)
    components["Error"] = ERROR
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            _constrain(operation.get("parameters"))
            _constrain(operation.get("requestBody"))
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses[code] = _error_response(description)
    app.openapi_schema = schema
    return schema
