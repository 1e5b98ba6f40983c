"""The shared WindowCounters (Redis, PostgreSQL) answer exactly as the in-process one does, for any
sequence of counts, takes, reads and forgets; several processes' clients see one count; a store
that goes away degrades to this process's counts instead of failing the request."""

from __future__ import annotations

import math
import multiprocessing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.counters import LocalCounter, PostgresCounter, RedisCounter, make_counter
from fireline.db import Database

KEYS = ["rate|c1|user:a", "rate|c1|user:b", "rate|c2|user:a", "budget|c3|tenant:t_1", "session|app|s%1|steps"]
WINDOWS = [1.0, 60.0]

op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(KEYS), st.floats(0, 50), st.sampled_from(WINDOWS)),
    st.tuples(st.just("take"), st.sampled_from(KEYS), st.floats(0, 5), st.sampled_from(WINDOWS),
              st.floats(0, 100)),
    st.tuples(st.just("total"), st.sampled_from(KEYS), st.sampled_from(WINDOWS)),
    st.tuples(st.just("many"), st.lists(st.tuples(st.sampled_from(KEYS), st.floats(0, 10)), max_size=4),
              st.sampled_from(WINDOWS)),
    st.tuples(st.just("forget"), st.sampled_from(["rate|c1|", "rate|", "session|app|s%", "nothing"])),
)
steps = st.lists(st.tuples(op, st.floats(0, 45)), min_size=1, max_size=25)


def run(counter: Any, ops: list[tuple[Any, float]], t0: float) -> list[Any]:
    now, out = t0, []
    for o, dt in ops:
        now += dt
        kind = o[0]
        if kind == "add":
            out.append(counter.add(o[1], o[2], o[3], now))
        elif kind == "take":
            out.append(counter.take(o[1], o[2], o[4], o[3], now))
        elif kind == "total":
            out.append(counter.total(o[1], o[2], now))
        elif kind == "many":
            out.append(counter.add_many(o[1], o[2], now))
        else:
            counter.forget(o[1])
            out.append(None)
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture
def pg_counter(pg_url: str) -> Any:
    db = Database(pg_url)
    counter = PostgresCounter(db.engine)
    yield counter
    counter.close()
    db.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=steps, t0=st.floats(1.7e9, 1.8e9))
def test_redis_counts_as_the_local_counter(redis_url: str, redis_prefix: str, ops: list[Any], t0: float) -> None:
    counter = RedisCounter(redis_url, prefix=redis_prefix + "h:")
    counter.forget("")
    assert all(same(a, b) for a, b in zip(run(LocalCounter(), ops, t0), run(counter, ops, t0), strict=True))
    assert counter.local.total(KEYS[0], 60.0, t0) == 0  # nothing fell back to the local counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=steps, t0=st.floats(1.7e9, 1.8e9))
def test_postgres_counts_as_the_local_counter(pg_counter: PostgresCounter, ops: list[Any], t0: float) -> None:
    pg_counter.forget("")
    assert all(same(a, b) for a, b in zip(run(LocalCounter(), ops, t0), run(pg_counter, ops, t0), strict=True))


def _hammer(kind: str, url: str, prefix: str, n: int, now: float, out: Any) -> None:
    counter = RedisCounter(url, prefix=prefix) if kind == "redis" else PostgresCounter(Database(url).engine)
    out.put(sum(counter.take("rate|c|user:x", 1.0, 30.0, 60.0, now) is None for _ in range(n)))
    counter.close()


@pytest.mark.parametrize("kind", ["redis", "postgresql"])
def test_a_limit_holds_across_processes(kind: str, request: pytest.FixtureRequest) -> None:
    """Three processes take 20 each from a limit of 30: 30 go through in all, not 30 each."""
    url = request.getfixturevalue("redis_url" if kind == "redis" else "pg_url")
    prefix = request.getfixturevalue("redis_prefix") if kind == "redis" else ""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    now = 1.75e9 + 10.0
    procs = [ctx.Process(target=_hammer, args=(kind, url, prefix, 20, now, out)) for _ in range(3)]
    for p in procs:
        p.start()
    allowed = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    assert sum(allowed) == 30


def test_a_store_that_is_down_degrades_to_this_process(caplog: pytest.LogCaptureFixture) -> None:
    counter = RedisCounter("redis://127.0.0.1:1/0", timeout_s=0.2)  # nothing listens on port 1
    now = 1.75e9
    assert [counter.take("rate|c|user:a", 1.0, 2.0, 60.0, now) for _ in range(3)][:2] == [None, None]
    assert counter.take("rate|c|user:a", 1.0, 2.0, 60.0, now) is not None  # the limit still holds here
    assert "counting in this process" in caplog.text


def test_make_counter_picks_the_store(pg_url: str, redis_url: str, tmp_path: Any) -> None:
    sqlite = Database(f"sqlite:///{tmp_path}/f.db")
    pg = Database(pg_url)
    assert isinstance(make_counter(sqlite.url, sqlite.engine, None), LocalCounter)
    assert isinstance(make_counter(pg.url, pg.engine, None), PostgresCounter)
    assert isinstance(make_counter(pg.url, pg.engine, redis_url), RedisCounter)
    # two deployments on one Redis do not count into each other
    a = make_counter(pg.url, pg.engine, redis_url)
    b = make_counter(sqlite.url, sqlite.engine, redis_url)
    assert isinstance(a, RedisCounter) and isinstance(b, RedisCounter) and a.prefix != b.prefix
    pg.dispose()
    sqlite.dispose()


def test_batches_over_overlapping_keys_at_once_never_deadlock_and_count_every_amount(pg_url: str) -> None:
    """Session limits count a whole ingest batch in one transaction: batches from several workers
    touch the same sessions in any order, and none may wait on another (a deadlock falls back to
    this process's counts, a limit no longer global)."""
    import random
    import threading

    db = Database(pg_url)
    counter = PostgresCounter(db.engine, timeout_s=5.0)
    counter.forget("")
    keys = [f"session|app|s{i}|steps" for i in range(12)]
    now = 1.75e9 + 5.0
    sent: list[float] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            batch = [(rng.choice(keys), 1.0) for _ in range(rng.randint(1, 10))]
            rng.shuffle(batch)
            counter.add_many(batch, 600.0, now)
            sent.extend(a for _, a in batch)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert counter.local.total(keys[0], 600.0, now) == 0  # nothing fell back to this process's counts
    assert sum(counter.total(k, 600.0, now) for k in keys) == sum(sent)
    counter.close()
    db.dispose()
