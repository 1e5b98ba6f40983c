"""Durations as people write them in config, the API and the CLI: the one parser.

A bare number is minutes; a string is a number with `s`, `m` (or `min`), `h` or `d`.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

_FORM = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*")
_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, None: 60.0}
LONGEST = timedelta(days=3650)


def parse_duration(value: Any) -> timedelta:
    """15 (minutes), "30s", "15m", "1h", "3d", or a timedelta -> a positive timedelta of at most
    `LONGEST`; anything else is a ValueError that quotes (the start of) the value."""
    try:
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value) * 60.0
        elif isinstance(value, str) and (m := _FORM.fullmatch(value)):
            seconds = float(m.group(1)) * _SECONDS[m.group(2)]
        else:
            raise ValueError(f"{str(value)[:40]!r} is not a duration such as 30, '45s', '30m', '6h' or '3d'")
    except OverflowError:  # an integer past any float
        seconds = math.inf
    if not math.isfinite(seconds) or seconds > LONGEST.total_seconds():
        raise ValueError(f"{str(value)[:40]} is too long a duration (at most {LONGEST.days} days)")
    delta = timedelta(seconds=max(seconds, 0.0))
    if delta <= timedelta(0):  # a microsecond is the least a timedelta holds
        raise ValueError(f"{str(value)[:40]!r} is not a positive duration")
    return delta


def parse_minutes(value: Any, *, longest_minutes: int = 60 * 24 * 31) -> int:
    """A duration in whole minutes ('10m', '1h', '7d', 10), from 1 minute to `longest_minutes`."""
    minutes = parse_duration(value).total_seconds() / 60.0
    if minutes != int(minutes) or minutes < 1:
        raise ValueError(f"{str(value)[:40]!r} is not a whole number of minutes: use '10m', '1h', '7d'")
    if minutes > longest_minutes:
        raise ValueError(f"duration {str(value)[:40]!r} must be between 1 minute and {longest_minutes // 1440} days")
    return int(minutes)
