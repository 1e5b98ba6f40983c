"""Shared by the ingest tests: config with tool classes, fixtures, captured alerts."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from fireline.config import Config
from fireline.ingest import otlp

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG = Config.model_validate({"apps": {
    "support-bot": {"tools": {"issue_refund": "write", "lookup_order": "read"}},
    "kb-assistant": {"tools": {"lookup_account": "read"}},
}})
ALERT_TOPICS = ("alert.fired", "alert.acknowledged", "alert.resolved")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return orjson.loads(fixture_bytes(name))


def as_protobuf(json_body: bytes) -> bytes:
    """The same export in the protobuf encoding (through our JSON decoder)."""
    return otlp.decode(json_body, otlp.JSON).SerializeToString()


def gz(data: bytes) -> bytes:
    return gzip.compress(data)
