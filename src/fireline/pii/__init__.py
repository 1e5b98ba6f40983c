"""PII and secret scanner shared by the ingest privacy pass and the pii/secrets detectors."""

from fireline.pii.scanner import PII_TYPES, SECRET_TYPES, Span, redact, scan

__all__ = ["PII_TYPES", "SECRET_TYPES", "Span", "redact", "scan"]
