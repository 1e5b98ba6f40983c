"""Which process runs the loops that must run once per deployment (retention, SLA clocks, control
expiry, fix verification, comms reminders, monitor alerts), when several workers or replicas share
one PostgreSQL: the holder of a session-level advisory lock. A leader whose connection dies loses
the lock with it (PostgreSQL releases it), and another process takes over within `retry_s`. On
SQLite there is one process: it always leads.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fireline.leader")

LOCK_KEY = 0x46495245  # "FIRE": the advisory lock of the leader of one database

# Elections started and not stopped in this process (one per serving app; a process hosting
# several apps one after another, as the demo and the tests do, can check none outlived its app).
_running: weakref.WeakSet[Leadership] = weakref.WeakSet()


def running() -> list[Leadership]:
    """The elections of this process that were started and not stopped."""
    return list(_running)


class Leadership:
    def __init__(self, engine: Any, retry_s: float = 1.0) -> None:
        self.shared = engine.dialect.name == "postgresql"
        self._leading = not self.shared
        self._led = threading.Event()
        if self._leading:
            self._led.set()
        self.retry_s = retry_s
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._database = engine.url.database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._following = False  # connected, and another process holds the lock

    def on(self, database: str | None) -> bool:
        """Whether this election is held on the named database."""
        return bool(database) and self._database == database

    def is_leader(self) -> bool:
        return self._leading

    def is_follower(self) -> bool:
        """Known to follow: connected, and another process leads. While the election cannot be
        held (the database away), a process is neither leader nor follower."""
        return self._following

    def start(self) -> Leadership:
        """On PostgreSQL the first try is made now, so a lone server leads from its first loop step."""
        if self.shared and self._thread is None:
            _running.add(self)
            try:
                self._conn = self._connect()
                self._try(self._conn)
            except Exception as exc:
                self._conn = None
                log.warning("leader election: %s; trying again", type(exc).__name__)
            self._thread = threading.Thread(target=self._run, name="fireline-leader", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        _running.discard(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._following = False
        self._set(not self.shared)

    def wait(self, timeout: float) -> bool:
        """Wait until this process leads (tests, the benches); answers whether it does."""
        return self._led.wait(timeout)

    def _set(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        (self._led.set if leading else self._led.clear)()
        log.info("this process %s the leader", "is now" if leading else "is no longer")

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)

    def _try(self, conn: Any) -> None:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        got = bool(row and row[0])
        self._following = not got
        self._set(got)

    def _run(self) -> None:
        logged = 0.0
        while not self._stop.is_set():
            try:
                conn, self._conn = self._conn or self._connect(), None
                with conn:
                    while not self._stop.wait(self.retry_s):
                        if not self._leading:
                            self._try(conn)
                        else:
                            conn.execute("SELECT 1")  # the lock lives as long as this connection
                    if self._leading:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            except Exception as exc:
                self._following = False
                self._set(False)
                if not self._stop.is_set():
                    if time.monotonic() - logged >= 60:  # retried every second: logged once a minute
                        logged = time.monotonic()
                        log.warning("leader election: %s; trying again", type(exc).__name__)
                    self._stop.wait(self.retry_s)


def leading(app: Any) -> Callable[[], bool]:
    """The `only_if` of a loop that runs on the leader only."""
    return lambda: app.state.leader.is_leader()
