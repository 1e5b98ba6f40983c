"""The monitor feed: facts survive the wire exactly, PostgreSQL chunks stay under NOTIFY's payload
limit and lose no fact, and a fact published by one process is counted by the others, not twice
by its sender (Redis pub/sub and PostgreSQL NOTIFY for real)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.db import Database
from fireline.detect import feed as feed_module
from fireline.detect.facts import Fact
from fireline.detect.feed import PG_LIMIT, Feed, PostgresFeed, RedisFeed, decode, encode

text = st.text(max_size=40)
opt = st.none() | text
finding = st.fixed_dictionaries({"detector": text, "kind": text, "location": text, "severity": text,
                                 "tool": opt})
facts = st.builds(
    Fact, id=text, minute=st.integers(0, 40_000_000), app=text, tenant=opt, model=opt, prompt_version=opt,
    tools=st.lists(text, max_size=3).map(tuple), status=text, cost=st.none() | st.floats(0, 1e6),
    latency=st.none() | st.floats(0, 1e7), findings=st.lists(finding, max_size=3).map(tuple), report_kind=opt,
    session=opt, api_key=opt, alias=opt, route=opt, attrs=st.none() | st.dictionaries(text, text, max_size=3),
    features=st.none() | st.dictionaries(text, st.tuples(st.integers(-64, 64), st.floats(-1e9, 1e9)), max_size=3))


@given(st.lists(facts, max_size=20))
def test_facts_round_trip(batch: list[Fact]) -> None:
    assert decode(encode(batch)) == batch


@settings(max_examples=30, deadline=None)
@given(st.lists(facts, min_size=1, max_size=120))
def test_postgres_chunks_fit_notify_and_keep_every_fact(batch: list[Fact]) -> None:
    feed = PostgresFeed.__new__(PostgresFeed)
    feed.origin = b"0123456789abcdef"
    chunks = feed.chunks(batch)
    assert all(len(c) + len(feed.origin) + 1 <= PG_LIMIT for c in chunks)
    small = [f for f in batch if len(encode([f])) + len(feed.origin) + 1 <= PG_LIMIT]
    assert [f for c in chunks for f in decode(c)] == small


def fact(i: int) -> Fact:
    return Fact(id=f"c-{i}", minute=29_000_000, app="bot", tenant="t", model="m", prompt_version=None,
                tools=("lookup",), status="error", findings=({"detector": "pii", "kind": "pii_leak",
                                                             "location": "output", "severity": "P1", "tool": None},))


def exchange(a: Feed, b: Feed) -> int:
    """Returns how many gatherings the receiver counted the 150 facts in."""
    got_a: list[Fact] = []
    got_b: list[Fact] = []
    done = threading.Event()

    def on_b(fs: list[Fact]) -> None:
        got_b.extend(fs)
        if len(got_b) >= 150:
            done.set()

    a.start(got_a.extend)
    b.start(on_b)
    try:
        assert a.listening.wait(10) and b.listening.wait(10)
        a.publish([fact(i) for i in range(150)])  # several NOTIFY chunks on PostgreSQL
        assert done.wait(10)
        time.sleep(0.3)
        assert [f.id for f in got_b] == [f"c-{i}" for i in range(150)] and got_b[0] == fact(0)
        assert got_a == []  # the sender counted its own facts already
        return b.gatherings
    finally:
        a.stop()
        b.stop()


def test_redis_feed_between_processes(redis_url: str, redis_prefix: str) -> None:
    exchange(RedisFeed(redis_url, redis_prefix + "facts"), RedisFeed(redis_url, redis_prefix + "facts"))


def test_postgres_feed_between_processes(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        a = PostgresFeed(db.engine)
        chunks = len(a.chunks([fact(i) for i in range(150)]))
        assert chunks >= 3
        # The chunks of one publish are counted together, not one evaluation of the monitors each.
        assert exchange(a, PostgresFeed(db.engine)) < chunks
    finally:
        db.dispose()


class Loopback(Feed):
    """A feed whose listener is the test: messages go straight to `_deliver`."""

    store = "loopback"

    def _listen(self) -> None:
        self.listening.set()
        self._stop.wait()


def test_messages_are_counted_in_gatherings_in_order_and_a_bad_one_alone(
        caplog: pytest.LogCaptureFixture) -> None:
    got: list[list[Fact]] = []
    feed = Loopback(gather_s=0.2).start(got.append)
    try:
        assert feed.listening.wait(5)
        for i in range(5):
            feed._deliver(b"other\n" + encode([fact(2 * i), fact(2 * i + 1)]))
        feed._deliver(b"other\n" + b"not json")
        feed._deliver(feed.origin + b"\n" + encode([fact(99)]))  # its own: counted when sent
        feed._deliver(b"other\n" + encode([fact(10)]))
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert [[f.id for f in fs] for fs in got] == [[f"c-{i}" for i in range(11)]]
        assert "a message was not counted" in caplog.text
        feed._deliver(b"other\n" + encode([fact(11)]))  # a later message: the next gathering
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [f.id for f in got[1]] == ["c-11"] and feed.gatherings == 2
    finally:
        feed.stop()


def test_a_failing_publish_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    feed = RedisFeed("redis://127.0.0.1:1/0", "x")  # nothing listens on port 1
    feed.publish([fact(1)])
    assert "facts not shared" in caplog.text


def test_counting_far_behind_drops_new_messages_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """The listener never holds more than INBOX messages in memory while counting lags behind."""
    monkeypatch.setattr(feed_module, "INBOX", 3)
    got: list[list[Fact]] = []
    feed = Loopback(gather_s=0.3)
    feed.receive = got.append  # not started: nothing counts, as if counting were stuck
    for i in range(5):
        feed._deliver(b"other\n" + encode([fact(i)]))
    assert len(feed._inbox) == 3 and "newer ones are dropped" in caplog.text
