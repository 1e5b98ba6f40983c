"""Fireline: incident response for AI features in production."""

__version__ = "0.1.0"
