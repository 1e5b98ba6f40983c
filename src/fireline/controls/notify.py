"""Cross-process propagation on PostgreSQL: each revision bump sends NOTIFY in its transaction
(delivered at commit); a listener thread per process refreshes its ControlBook at once. Other
processes on SQLite rely on the poll loop (controls.poll_interval_s)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from fireline.controls.state import ControlBook

log = logging.getLogger("fireline.controls")
CHANNEL = "fireline_controls"


def notify(session: Session, revision: int) -> None:
    """Queue a notification in the caller's transaction (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": str(revision)})


class Listener:
    """LISTEN on the channel and refresh `book` on every notification; reconnects on errors."""

    def __init__(self, book: ControlBook) -> None:
        self.book = book
        url = book.db.engine.url.set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fireline-controls-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        import psycopg

        failures, logged_at = 0, 0.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if failures:
                        log.warning("controls LISTEN reconnected after %d failures", failures)
                        failures = 0
                    self.book.refresh()  # whatever changed while we were not listening
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if int(note.payload or 0) != self.book.current().revision:
                                self.book.refresh()
            except Exception as exc:
                if not self._stop.is_set():
                    failures += 1
                    now = time.monotonic()
                    if failures == 1 or now - logged_at >= 60:  # not a line a second while the database is away
                        logged_at = now
                        log.warning("controls LISTEN failed (%s, %d in a row); the poll loop covers until it "
                                    "reconnects", type(exc).__name__, failures)
                    self._stop.wait(1.0)
