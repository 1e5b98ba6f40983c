"""Minute buckets of one monitor x group, with running sums over the window and the history.

Both ranges slide forward one minute at a time, so keeping their totals costs O(1) per minute
(add the bucket that enters, subtract the one that leaves); a write into a minute inside a
range (backfill, late data) updates that range's total directly. Nothing is ever re-scanned
on the hot path; a full re-sum happens only when a range jumps further than it holds buckets.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Latency histogram bins: upper bounds growing by 10% from 1 ms to about 30 minutes.
LATENCY_BOUNDS: tuple[float, ...] = tuple(1.1**k for k in range(0, 151))


def latency_bin(ms: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS, ms)


def bin_value(index: int) -> float:
    return LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1]


def quantile(bins: dict[int, int], q: float) -> float:
    total = sum(bins.values())
    if total <= 0:
        return 0.0
    rank = math.ceil(q * total)
    seen = 0
    for index in sorted(bins):
        seen += bins[index]
        if seen >= rank:
            return bin_value(index)
    return bin_value(max(bins))


@dataclass(slots=True)
class Bucket:
    num: float = 0.0  # matching events, or the summed value (cost)
    den: int = 0  # calls
    bins: dict[int, int] | None = None  # latency histogram


@dataclass(slots=True)
class RangeSum:
    """Totals of the buckets with lo <= minute < hi."""

    lo: int = 0
    hi: int = 0
    num: float = 0.0
    den: int = 0
    bins: dict[int, int] = field(default_factory=dict)

    def apply(self, b: Bucket | None, sign: int) -> None:
        if b is None:
            return
        self.num += sign * b.num
        self.den += sign * b.den
        if b.bins:
            for k, n in b.bins.items():
                left = self.bins.get(k, 0) + sign * n
                if left > 0:
                    self.bins[k] = left
                else:
                    self.bins.pop(k, None)
        if self.den <= 0:
            self.den = 0
        if abs(self.num) < 1e-9:
            self.num = 0.0

    def move(self, buckets: dict[int, Bucket], lo: int, hi: int) -> None:
        if lo == self.lo and hi == self.hi:
            return
        step = lo - self.lo
        if step > 0 and hi - self.hi == step and step < hi - lo and step <= 2 * len(buckets) + 8:
            for m in range(self.hi, hi):
                self.apply(buckets.get(m), 1)
            for m in range(self.lo, lo):
                self.apply(buckets.get(m), -1)
            self.lo, self.hi = lo, hi
            return
        self.lo, self.hi, self.num, self.den, self.bins = lo, hi, 0.0, 0, {}
        if hi - lo <= len(buckets):
            for m in range(lo, hi):
                self.apply(buckets.get(m), 1)
        else:
            for m, b in buckets.items():
                if lo <= m < hi:
                    self.apply(b, 1)


@dataclass(slots=True)
class Hit:
    """A call that fed a monitor's numerator, kept to link it to an alert."""

    minute: int
    score: float
    call_id: str
    app: str
    tenant: str | None
    model: str | None
    prompt_version: str | None
    tools: tuple[str, ...]
    session: str | None = None  # the signature a playbook scopes to (session, API key id)
    key: str | None = None


@dataclass(slots=True)
class Series:
    buckets: dict[int, Bucket] = field(default_factory=dict)
    window: RangeSum = field(default_factory=RangeSum)
    history: RangeSum = field(default_factory=RangeSum)
    first: int | None = None  # earliest minute with data
    hits: deque[Hit] = field(default_factory=lambda: deque(maxlen=400))
    hit_total: int = 0  # hits ever added; with `hits_emitted`, which hits no alert carried yet
    hits_emitted: int = 0
    state: str = "ok"
    last_fired: datetime | None = None
    clear_since: datetime | None = None  # a firing group's condition is clear since (recover_after)
    values: dict[str, Any] = field(default_factory=dict)  # the last evaluation, for the API
    usual: frozenset[int] = frozenset()  # distribution bins common in the history (their calls are not linked)
    counted: bool = False  # some bucket ever got a non-zero numerator (else every range's `num` is 0)

    def add(self, minute: int, num: float, den: int, bins: dict[int, int] | None = None) -> None:
        b = self.buckets.get(minute)
        if b is None:
            b = self.buckets[minute] = Bucket()
        b.num += num
        b.den += den
        if num:
            self.counted = True
        if bins:
            if b.bins is None:
                b.bins = {}
            for k, n in bins.items():
                b.bins[k] = b.bins.get(k, 0) + n
        for rng in (self.window, self.history):
            if rng.lo <= minute < rng.hi:
                rng.apply(Bucket(num, den, bins), 1)
        if self.first is None or minute < self.first:
            self.first = minute

    def prune(self, before: int) -> None:
        """Forget buckets older than `before` (outside every range by then)."""
        old = [m for m in self.buckets if m < before]
        for m in old:
            del self.buckets[m]
        if old:
            self.first = min(self.buckets) if self.buckets else None
        while self.hits and self.hits[0].minute < before:
            self.hits.popleft()
