"""CONTRACT library entry point: the PII detector as one function (see DESIGN.md)."""

from __future__ import annotations

from fireline.pii import scan


def pii_spans(text: str) -> list[tuple[str, int, int]]:
    """PII and secret spans in text as (entity type in Presidio's names, start, end), sorted by start."""
    return scan(text)


__all__ = ["pii_spans"]
