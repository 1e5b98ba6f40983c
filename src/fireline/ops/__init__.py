"""Operational endpoints: health and metrics."""
