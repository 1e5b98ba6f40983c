"""Failure rates with their uncertainty: the Wilson score interval, and how many samples a
threshold needs before a run with no failures can pass it."""

from __future__ import annotations

import math
from statistics import NormalDist


def z_of(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must be in [0.5, 1)")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(failures: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of failures/n; (0, 1) when nothing was observed."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= failures <= n:
        raise ValueError("failures must be between 0 and n")
    z = z_of(confidence)
    p = failures / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # Exact at the ends (floating error would otherwise leave 1e-17 above 0).
    return (0.0 if failures == 0 else lo), (1.0 if failures == n else hi)


def min_samples(threshold: float, confidence: float = 0.95) -> int:
    """The fewest samples for which zero failures puts the upper Wilson bound at or under
    `threshold` (upper bound with no failures is z^2 / (n + z^2))."""
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be between 0 and 1 (exclusive)")
    z2 = z_of(confidence) ** 2
    return max(1, math.ceil(z2 * (1 - threshold) / threshold))
