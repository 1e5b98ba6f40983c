"""PII and secret scanner shared by the ingest privacy pass and the pii/secrets detectors."""

from fireline.pii.ids import ID_TYPES
from fireline.pii.scanner import (
    CONTEXT_TYPES,
    PII_TYPES,
    SECRET_TYPES,
    VALIDATED_TYPES,
    Span,
    redact,
    redact_scanned,
    replace_spans,
    scan,
)

__all__ = [
    "CONTEXT_TYPES", "ID_TYPES", "PII_TYPES", "SECRET_TYPES", "VALIDATED_TYPES", "Span", "redact", "redact_scanned",
    "replace_spans", "scan",
]  # fmt: skip
