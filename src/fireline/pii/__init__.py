"""PII and secret scanner shared by the ingest privacy pass and the pii/secrets detectors.

Its modules run compiled (mypyc, `make native`) when the build matches their sources, else as
Python: `fireline.native` decides here, before the first of them is imported."""

from fireline import native

native.choose()

from fireline.pii.ids import ID_TYPES  # noqa: E402
from fireline.pii.scanner import (  # noqa: E402
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
