"""The one counter of Fireline: amounts per key over a sliding time window.

Rate limits (1 per request), budgets (tokens or dollars), per-session signals (steps, identical
tool calls, tokens, spend) all count through a `WindowCounter`. The window is estimated from two
fixed windows, the current one and the previous one weighted by how much of it still overlaps
the sliding window (the scheme of Cloudflare's and most Redis rate limiters): O(1) memory and
time per key, within a few percent of an exact log. `LocalCounter` keeps the counts in this
process. Several workers or replicas share their counts through `RedisCounter` (when
FIRELINE_REDIS_URL is set) or `PostgresCounter` (a row per key, locked while it is counted);
`make_counter` picks one. A shared store that fails answers from this process's counts until it
is back (a limit degrades to per replica; serving goes on), logged once a minute and counted in
`fireline_shared_state_failures_total`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Protocol

log = logging.getLogger("fireline.counters")


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

    def close(self) -> None:
        """Let go of the store's connections (the app's shutdown)."""
        ...


def _roll(slot: list[float], window_s: float, now: float) -> list[float]:
    """Move a [window start, previous, current] slot to the fixed window holding `now`. A `now`
    before the slot's window (another replica's clock slightly behind) counts in the slot's window."""
    start = now - (now % window_s)
    if start > slot[0]:
        slot[1] = slot[2] if start - slot[0] == window_s else 0.0
        slot[0], slot[2] = start, 0.0
    return slot


def _estimate(slot: list[float], window_s: float, now: float) -> float:
    elapsed = min(max(now - slot[0], 0.0), window_s)
    return slot[1] * (1 - elapsed / window_s) + slot[2]


def _take(slot: list[float], amount: float, limit: float, window_s: float, now: float) -> float | None:
    """`take` on a rolled slot (counts into it when the amount fits)."""
    elapsed = min(max(now - slot[0], 0.0), window_s)
    if _estimate(slot, window_s, now) + amount <= limit:
        slot[2] += amount
        return None
    if slot[1] > 0 and slot[2] + amount <= limit:
        # wait until the previous window's weight has decayed enough
        need = (slot[1] + slot[2] + amount - limit) / slot[1] * window_s - elapsed
        return max(min(need, window_s - elapsed), 0.001)
    return max(window_s - elapsed, 0.001)


class LocalCounter:
    """A WindowCounter in this process's memory (thread-safe; bounded by `max_keys`)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._slots: dict[tuple[str, float], list[float]] = {}  # [window start, previous, current]
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def _slot(self, key: str, window_s: float, now: float) -> list[float]:
        slot = self._slots.get((key, window_s))
        if slot is None:
            if len(self._slots) >= self.max_keys:
                self._evict(now)
            slot = self._slots[(key, window_s)] = [now - (now % window_s), 0.0, 0.0]
            return slot
        return _roll(slot, window_s, now)

    def _evict(self, now: float) -> None:
        """Drop keys idle for two windows (they count nothing any more); all of them if none is."""
        idle = [k for k, s in self._slots.items() if now - s[0] >= 2 * k[1]]
        for k in idle or list(self._slots):
            del self._slots[k]

    def total(self, key: str, window_s: float, now: float) -> float:
        with self._lock:
            return _estimate(self._slot(key, window_s, now), window_s, now)

    def add(self, key: str, amount: float, window_s: float, now: float) -> float:
        with self._lock:
            slot = self._slot(key, window_s, now)
            slot[2] += amount
            return _estimate(slot, window_s, now)

    def add_many(self, items: list[tuple[str, float]], window_s: float, now: float) -> list[float]:
        out = []
        with self._lock:
            for key, amount in items:
                slot = self._slot(key, window_s, now)
                slot[2] += amount
                out.append(_estimate(slot, window_s, now))
        return out

    def take(self, key: str, amount: float, limit: float, window_s: float, now: float) -> float | None:
        with self._lock:
            return _take(self._slot(key, window_s, now), amount, limit, window_s, now)

    def forget(self, prefix: str) -> None:
        with self._lock:
            for k in [k for k in self._slots if k[0].startswith(prefix)]:
                del self._slots[k]

    def close(self) -> None:
        """Nothing to let go of: the counts live in this process."""


# Shared stores: every operation is (mode, [(key, amount)], limit, window, now) -> one answer per key,
# where an answer is the new total (add), the total (total), or -1 / the seconds to wait (take).
Items = list[tuple[str, float]]


class SharedCounter(ABC):
    """A WindowCounter kept in a store that every worker and replica reaches (subclasses: `_apply`,
    `_forget`). While the store fails, this process's own counts stand in for it."""

    store = "shared"
    RETRY_S = 5.0  # after a failure, the store is tried again this much later (a hung store costs a
    # timeout once per RETRY_S, on the request that tries it)

    def __init__(self) -> None:
        self.local = LocalCounter()
        self._down_until = 0.0
        self._logged_at = 0.0

    @abstractmethod
    def _apply(self, mode: str, items: Items, limit: float, window_s: float, now: float) -> list[float]:
        """What the store does (its subclass)."""

    @abstractmethod
    def _forget(self, prefix: str) -> None:
        """What the store does (its subclass)."""

    def _run(self, mode: str, items: Items, limit: float, window_s: float, now: float) -> list[float] | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return self._apply(mode, items, limit, window_s, now)
        except Exception as exc:
            self._failed(exc)
            return None

    def _failed(self, exc: BaseException) -> None:
        from fireline.metrics import SHARED_STATE_FAILURES

        SHARED_STATE_FAILURES.labels(self.store).inc()
        self._down_until = time.monotonic() + self.RETRY_S
        if time.monotonic() - self._logged_at >= 60:
            self._logged_at = time.monotonic()
            log.error("shared counters (%s) unavailable: %s; counting in this process until it is back",
                      self.store, type(exc).__name__)

    def total(self, key: str, window_s: float, now: float) -> float:
        out = self._run("total", [(key, 0.0)], 0.0, window_s, now)
        return out[0] if out is not None else self.local.total(key, window_s, now)

    def add(self, key: str, amount: float, window_s: float, now: float) -> float:
        out = self._run("add", [(key, amount)], 0.0, window_s, now)
        return out[0] if out is not None else self.local.add(key, amount, window_s, now)

    def add_many(self, items: list[tuple[str, float]], window_s: float, now: float) -> list[float]:
        if not items:
            return []
        out = self._run("add", items, 0.0, window_s, now)
        return out if out is not None else self.local.add_many(items, window_s, now)

    def take(self, key: str, amount: float, limit: float, window_s: float, now: float) -> float | None:
        out = self._run("take", [(key, amount)], limit, window_s, now)
        if out is None:
            return self.local.take(key, amount, limit, window_s, now)
        return None if out[0] < 0 else out[0]

    def forget(self, prefix: str) -> None:
        self.local.forget(prefix)
        try:
            self._forget(prefix)
        except Exception as exc:  # the keys expire by themselves after two windows
            self._failed(exc)

    @abstractmethod
    def close(self) -> None:
        """Let go of the store's connections (the app's shutdown)."""


# The slot logic of `_roll`, `_estimate` and `_take`, run inside Redis (atomic per call).
_LUA = """
local mode, w, now, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now - (now % w)
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 's', 'p', 'c')
  local s, p, c = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
  if s == nil then
    s, p, c = start, 0, 0
  elseif start > s then
    if start - s == w then p = c else p = 0 end
    s, c = start, 0
  end
  local el = math.min(math.max(now - s, 0), w)
  local est = p * (1 - el / w) + c
  local amount = tonumber(ARGV[4 + i])
  local res = est
  if mode == 'add' then
    c = c + amount
    res = est + amount
  elseif mode == 'take' then
    if est + amount <= limit then
      c = c + amount
      res = -1
    elseif p > 0 and c + amount <= limit then
      res = math.max(math.min((p + c + amount - limit) / p * w - el, w - el), 0.001)
    else
      res = math.max(w - el, 0.001)
    end
  end
  if mode ~= 'total' then
    redis.call('HSET', key, 's', string.format('%.17g', s), 'p', string.format('%.17g', p),
               'c', string.format('%.17g', c))
    redis.call('PEXPIRE', key, math.ceil(w * 2000))
  end
  out[i] = string.format('%.17g', res)
end
return out
"""


def namespace(database_url: str) -> str:
    """Keys of one deployment (its database) apart from another's on the same Redis."""
    return "fireline:" + hashlib.sha256(database_url.encode()).hexdigest()[:12] + ":"


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisCounter(SharedCounter):
    """Counts in Redis: one hash per key and window, updated by one Lua script per call (one round
    trip for `add_many`), expiring two windows after its last count."""

    store = "redis"

    def __init__(self, url: str, prefix: str = "fireline:wc:", timeout_s: float = 0.5) -> None:
        import redis

        super().__init__()
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           health_check_interval=30)
        self.script = self.client.register_script(_LUA)

    def _key(self, key: str, window_s: float) -> str:
        return f"{self.prefix}{key}|w={window_s:g}"

    def close(self) -> None:
        self.client.close()

    def _apply(self, mode: str, items: Items, limit: float, window_s: float, now: float) -> list[float]:
        keys = [self._key(k, window_s) for k, _ in items]
        args: list[Any] = [mode, repr(float(window_s)), repr(float(now)), repr(float(limit))]
        args += [repr(float(a)) for _, a in items]
        return [float(x) for x in self.script(keys=keys, args=args)]

    def _forget(self, prefix: str) -> None:
        batch: list[Any] = []
        for key in self.client.scan_iter(match=self.prefix + _glob_escape(prefix) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)


class PostgresCounter(SharedCounter):
    """Counts in the `window_counters` table, a batch of keys in one transaction of two statements
    whatever their number: one upsert locks every row of the batch (in key order, so two batches
    never deadlock) and hands them back, the windows are rolled and counted here, one update
    writes them all. A batch of 100 calls with 100 sessions costs the same round trips as one."""

    store = "postgresql"
    PRUNE_S = 60.0
    _READ = ("SELECT key, start, prev, cur FROM window_counters "
             "WHERE window_s = :w AND key = ANY(CAST(:keys AS text[]))")
    _LOCK = ("INSERT INTO window_counters (key, window_s, start, prev, cur) "
             "SELECT k, :w, :s, 0, 0 FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k "
             "ON CONFLICT (key, window_s) DO UPDATE SET key = EXCLUDED.key RETURNING key, start, prev, cur")
    _WRITE = ("UPDATE window_counters AS w SET start = v.s, prev = v.p, cur = v.c "
              "FROM unnest(CAST(:keys AS text[]), CAST(:s AS float8[]), CAST(:p AS float8[]), "
              "CAST(:c AS float8[])) AS v(k, s, p, c) WHERE w.key = v.k AND w.window_s = :w")

    def __init__(self, engine: Any, timeout_s: float = 0.5) -> None:
        from sqlalchemy import create_engine

        super().__init__()
        # Its own small pool with short timeouts: the gateway asks on its request path, and a database
        # that is away must cost a request half a second, not the request timeout.
        ms = int(timeout_s * 1000)
        self.engine = create_engine(engine.url, pool_size=4, max_overflow=8, pool_timeout=timeout_s,
                                    pool_pre_ping=True, hide_parameters=True,
                                    connect_args={"connect_timeout": max(1, round(timeout_s)),
                                                  "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"})
        self._pruned_at = 0.0

    def _apply(self, mode: str, items: Items, limit: float, window_s: float, now: float) -> list[float]:
        from sqlalchemy import text

        start = now - (now % window_s)
        keys = sorted({k for k, _ in items})
        slots = {k: [start, 0.0, 0.0] for k in keys}
        out: list[float] = []
        with self.engine.begin() as conn:
            rows = conn.execute(text(self._READ if mode == "total" else self._LOCK),
                                {"keys": keys, "w": window_s, "s": start})  # locked until the commit
            for key, *slot in rows:
                slots[key] = _roll(slot, window_s, now)
            for key, amount in items:  # in the caller's order, as LocalCounter counts them
                slot = slots[key]
                if mode == "add":
                    slot[2] += amount
                if mode == "take":
                    wait = _take(slot, amount, limit, window_s, now)
                    out.append(-1.0 if wait is None else wait)
                else:
                    out.append(_estimate(slot, window_s, now))
            if mode != "total":
                conn.execute(text(self._WRITE), {"keys": keys, "w": window_s, "s": [slots[k][0] for k in keys],
                                                 "p": [slots[k][1] for k in keys], "c": [slots[k][2] for k in keys]})
                if time.monotonic() - self._pruned_at >= self.PRUNE_S:
                    self._pruned_at = time.monotonic()
                    conn.execute(text("DELETE FROM window_counters WHERE start < :now - 2 * window_s"), {"now": now})
        return out

    def close(self) -> None:
        self.engine.dispose()

    def _forget(self, prefix: str) -> None:
        from sqlalchemy import text

        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM window_counters WHERE key LIKE :p"), {"p": pattern})


def make_counter(database_url: str, engine: Any | None = None, redis_url: str | None = None) -> WindowCounter:
    """The process's one counter: Redis when `redis_url` is set, PostgreSQL when the database is
    PostgreSQL (`engine`), else this process's memory (the embedded single-process default)."""
    if redis_url:
        return RedisCounter(redis_url, prefix=namespace(database_url) + "wc:")
    if engine is not None and engine.dialect.name == "postgresql":
        return PostgresCounter(engine)
    return LocalCounter()


__all__ = ["LocalCounter", "PostgresCounter", "RedisCounter", "SharedCounter", "WindowCounter", "make_counter"]
