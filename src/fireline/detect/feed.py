"""Monitor windows across workers and replicas: every process sends the facts it counted (what
the monitors read of a call or a report: ids, attributes, findings' kinds, never content) to the
others, which count them too, so each process holds the deployment's windows, not its share of
them. Through Redis pub/sub when FIRELINE_REDIS_URL is set, else PostgreSQL NOTIFY (chunked under
its 8000-byte payload limit); on SQLite there is one process and no feed. Only the leader
(fireline.leader) records and delivers what fires, so one spike opens one incident.

Delivery is at most once: facts sent while a process is reconnecting are not counted there (a
window is short-lived; a restart rebuilds the windows from the stored calls).

What arrives is counted in gatherings, not message by message: the listener only queues, and a
second thread counts everything queued `GATHER_S` after the first message of a gathering, in one
`receive`. A batch of 100 calls crosses PostgreSQL as a dozen NOTIFY chunks, and each `receive`
evaluates every monitor group its facts touch (and the leader hands on what fires, a transaction
with the incidents): counted chunk by chunk, that work was paid a dozen times per batch, and a
second worker cost more CPU per call than it added (docs/scaling.md, "Two workers").
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import orjson

from fireline.detect.facts import Fact
from fireline.metrics import SHARED_STATE_FAILURES

log = logging.getLogger("fireline.detect.feed")

FIELDS = ("id", "minute", "app", "tenant", "model", "prompt_version", "tools", "status", "cost", "latency",
          "findings", "report_kind", "session", "api_key", "alias", "route", "attrs", "features")
PG_LIMIT = 7900  # bytes of one NOTIFY payload (PostgreSQL's limit is 8000)
GATHER_S = 0.05  # s: what arrives this long after a gathering's first message is counted with it
INBOX = 10_000  # messages (~5 KB each) waiting to be counted at most: past it, new ones are dropped
Receive = Callable[[list[Fact]], None]


def encode(facts: list[Fact]) -> bytes:
    return orjson.dumps([[getattr(f, k) for k in FIELDS] for f in facts])


def decode(data: bytes | str) -> list[Fact]:
    out = []
    for row in orjson.loads(data):
        f = Fact(**dict(zip(FIELDS, row, strict=True)))
        f.tools = tuple(f.tools)
        f.findings = tuple(f.findings)
        if f.features is not None:
            f.features = {k: (int(v[0]), float(v[1])) for k, v in f.features.items()}
        out.append(f)
    return out


class Feed(ABC):
    """Sends this process's facts and counts the others' (`receive`), from a listener thread."""

    store = "feed"

    def __init__(self, gather_s: float = GATHER_S) -> None:
        self.origin = uuid.uuid4().hex[:16].encode()
        self.receive: Receive | None = None
        self.gather_s = gather_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listening = threading.Event()  # set while subscribed
        self._logged = -60.0
        self._inbox: list[bytes] = []  # the others' messages (bodies), not counted yet
        self._arrived = threading.Condition()
        self.gatherings = 0  # `receive` calls (for the tests)

    def start(self, receive: Receive) -> Feed:
        self.receive = receive
        self._threads = [threading.Thread(target=target, name=f"fireline-{self.store}-{name}", daemon=True)
                         for target, name in ((self._loop, "feed"), (self._count, "feed-count"))]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._arrived:
            self._arrived.notify_all()
        for thread in self._threads:
            thread.join(timeout=3)

    def publish(self, facts: list[Fact]) -> None:
        if not facts:
            return
        try:
            self._send(encode(facts))
        except Exception as exc:  # the other processes miss these facts; this one counted them
            self._publish_failed(exc, len(facts))

    def _publish_failed(self, exc: BaseException, n: int) -> None:
        SHARED_STATE_FAILURES.labels(f"{self.store}-feed").inc()
        if time.monotonic() - self._logged >= 60:  # once a minute while it keeps failing
            self._logged = time.monotonic()
            log.warning("monitor feed (%s): %s; %d facts not shared (counted in the metric from now on)",
                        self.store, type(exc).__name__, n)

    def _deliver(self, message: bytes) -> None:
        """From the listener: another process's message, queued for the next gathering."""
        origin, _, body = message.partition(b"\n")
        if origin == self.origin or self.receive is None:
            return
        with self._arrived:
            if len(self._inbox) >= INBOX:  # counting has fallen this far behind: at most once, as a reconnect
                SHARED_STATE_FAILURES.labels(f"{self.store}-feed").inc()
                if time.monotonic() - self._logged >= 60:
                    self._logged = time.monotonic()
                    log.warning("monitor feed (%s): %d messages wait to be counted; newer ones are dropped "
                                "(counted in the metric from now on)", self.store, len(self._inbox))
                return
            self._inbox.append(body)
            if len(self._inbox) == 1:
                self._arrived.notify()

    def _count(self) -> None:
        """Each gathering's messages decoded (one that does not decode is counted in the metric and
        skipped alone) and handed to `receive` together, in arrival order."""
        while not self._stop.is_set():
            with self._arrived:
                while not self._inbox and not self._stop.is_set():
                    self._arrived.wait(0.5)
            if self._stop.wait(self.gather_s):
                return
            with self._arrived:
                bodies, self._inbox = self._inbox, []
            facts: list[Fact] = []
            for body in bodies:
                try:
                    facts += decode(body)
                except Exception as exc:
                    self._not_counted(exc)
            if not facts or self.receive is None:
                continue
            self.gatherings += 1
            try:
                self.receive(facts)
            except Exception as exc:
                self._not_counted(exc)

    def _not_counted(self, exc: BaseException) -> None:
        SHARED_STATE_FAILURES.labels(f"{self.store}-feed").inc()
        log.error("monitor feed (%s): a message was not counted: %s", self.store, type(exc).__name__)

    def _loop(self) -> None:
        logged = 0.0
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:
                self.listening.clear()
                if not self._stop.is_set():
                    SHARED_STATE_FAILURES.labels(f"{self.store}-feed").inc()
                    if time.monotonic() - logged >= 60:  # retried every second: logged once a minute
                        logged = time.monotonic()
                        log.warning("monitor feed (%s) listener: %s; reconnecting", self.store, type(exc).__name__)
                    self._stop.wait(1.0)

    def _send(self, body: bytes) -> None:
        """One message to every process (Redis); PostgreSQL overrides `publish` instead (chunks)."""
        raise NotImplementedError(f"{type(self).__name__} sends through publish")

    @abstractmethod
    def _listen(self) -> None:
        """What the store does (its subclass)."""


class RedisFeed(Feed):
    store = "redis"

    def __init__(self, url: str, channel: str) -> None:
        import redis

        super().__init__()
        self.channel = channel
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.url = url

    def _send(self, body: bytes) -> None:
        self.client.publish(self.channel, self.origin + b"\n" + body)

    def _listen(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=2.0, health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            self.listening.set()
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=0.5)
                if msg is not None and msg.get("type") == "message":
                    self._deliver(msg["data"])
        finally:
            self.listening.clear()
            pubsub.close()
            client.close()


class PostgresFeed(Feed):
    store = "postgresql"

    def __init__(self, engine: Any, channel: str = "fireline_monitor_facts") -> None:
        super().__init__()
        self.engine = engine
        self.channel = channel
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def chunks(self, facts: list[Fact]) -> list[bytes]:
        body = encode(facts)
        if len(body) + len(self.origin) + 1 <= PG_LIMIT:
            return [body]
        if len(facts) == 1:
            log.warning("monitor feed: a fact of %d bytes is too large to share", len(body))
            return []
        half = len(facts) // 2
        return self.chunks(facts[:half]) + self.chunks(facts[half:])

    def publish(self, facts: list[Fact]) -> None:
        if not facts:
            return
        try:
            from sqlalchemy import text

            payloads = [{"c": self.channel, "p": (self.origin + b"\n" + b).decode()} for b in self.chunks(facts)]
            with self.engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:c, :p)"), payloads)
        except Exception as exc:
            self._publish_failed(exc, len(facts))

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {self.channel}")
            self.listening.set()
            try:
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        self._deliver(note.payload.encode())
            finally:
                self.listening.clear()


def make_feed(engine: Any, database_url: str, redis_url: str | None) -> Feed | None:
    """Redis when configured, else PostgreSQL NOTIFY, else none (SQLite: one process)."""
    from fireline.counters import namespace

    if redis_url:
        return RedisFeed(redis_url, namespace(database_url) + "facts")
    if engine.dialect.name == "postgresql":
        return PostgresFeed(engine)
    return None
