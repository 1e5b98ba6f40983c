"""The one counter of Fireline: amounts per key over a sliding time window.

Rate limits (1 per request), budgets (tokens or dollars), per-session signals (steps, identical
tool calls, tokens, spend) all count through a `WindowCounter`. The window is estimated from two
fixed windows, the current one and the previous one weighted by how much of it still overlaps
the sliding window (the scheme of Cloudflare's and most Redis rate limiters): O(1) memory and
time per key, within a few percent of an exact log. `LocalCounter` keeps the counts in this
process; a shared store (Redis, for several replicas) implements the same five methods.
"""

from __future__ import annotations

import threading
from typing import Protocol


class WindowCounter(Protocol):
    def total(self, key: str, window_s: float, now: float) -> float:
        """The amount counted under `key` in the `window_s` seconds before `now`."""
        ...

    def add(self, key: str, amount: float, window_s: float, now: float) -> float:
        """Count `amount` at `now`; answers the new total."""
        ...

    def add_many(self, items: list[tuple[str, float]], window_s: float, now: float) -> list[float]:
        """`add` for several keys at once (one lock, or one round trip to a shared store)."""
        ...

    def take(self, key: str, amount: float, limit: float, window_s: float, now: float) -> float | None:
        """Count `amount` if the total stays within `limit` (None); else count nothing and answer the
        seconds until it would fit."""
        ...

    def forget(self, prefix: str) -> None:
        """Drop every key that starts with `prefix` (a reverted control's counters)."""
        ...


class LocalCounter:
    """A WindowCounter in this process's memory (thread-safe; bounded by `max_keys`)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._slots: dict[tuple[str, float], list[float]] = {}  # [window start, previous, current]
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def _slot(self, key: str, window_s: float, now: float) -> list[float]:
        start = now - (now % window_s)
        slot = self._slots.get((key, window_s))
        if slot is None:
            if len(self._slots) >= self.max_keys:
                self._evict(now)
            slot = self._slots[(key, window_s)] = [start, 0.0, 0.0]
        elif slot[0] != start:
            slot[1] = slot[2] if start - slot[0] == window_s else 0.0
            slot[0], slot[2] = start, 0.0
        return slot

    def _evict(self, now: float) -> None:
        """Drop keys idle for two windows (they count nothing any more); all of them if none is."""
        idle = [k for k, s in self._slots.items() if now - s[0] >= 2 * k[1]]
        for k in idle or list(self._slots):
            del self._slots[k]

    @staticmethod
    def _estimate(slot: list[float], window_s: float, now: float) -> float:
        return slot[1] * (1 - (now - slot[0]) / window_s) + slot[2]

    def total(self, key: str, window_s: float, now: float) -> float:
        with self._lock:
            return self._estimate(self._slot(key, window_s, now), window_s, now)

    def add(self, key: str, amount: float, window_s: float, now: float) -> float:
        with self._lock:
            slot = self._slot(key, window_s, now)
            slot[2] += amount
            return self._estimate(slot, window_s, now)

    def add_many(self, items: list[tuple[str, float]], window_s: float, now: float) -> list[float]:
        out = []
        with self._lock:
            for key, amount in items:
                slot = self._slot(key, window_s, now)
                slot[2] += amount
                out.append(self._estimate(slot, window_s, now))
        return out

    def take(self, key: str, amount: float, limit: float, window_s: float, now: float) -> float | None:
        with self._lock:
            slot = self._slot(key, window_s, now)
            elapsed = now - slot[0]
            if self._estimate(slot, window_s, now) + amount <= limit:
                slot[2] += amount
                return None
            if slot[1] > 0 and slot[2] + amount <= limit:
                # wait until the previous window's weight has decayed enough
                need = (slot[1] + slot[2] + amount - limit) / slot[1] * window_s - elapsed
                return max(min(need, window_s - elapsed), 0.001)
            return max(window_s - elapsed, 0.001)

    def forget(self, prefix: str) -> None:
        with self._lock:
            for k in [k for k in self._slots if k[0].startswith(prefix)]:
                del self._slots[k]


__all__ = ["LocalCounter", "WindowCounter"]
