"""The gateway's durable spool: every call is appended here before its answer is released.

Layout: `<data_dir>/spool/<created>-<owner>-<seq>.jsonl`, one JSON record per line, append-only,
and a `.done` file beside each segment holding how far the writer has stored it. Each process owns
its own segments (`owner` = host, pid and a random tag) and holds an exclusive `flock` on each
while it lives, so several worker processes never share a file. A segment whose lock can be
taken belongs to a process that died: the next process to look adopts and replays it, oldest
first (`created`, the wall-clock nanoseconds at which the segment was opened, leads the name, so
the segments of processes that died one after another replay in the order they were written,
whatever their pids).

Durability: `append` is one `write()` of the whole line before the response goes out, so the
record is in the kernel's page cache and survives kill -9 of the process. Power loss is covered
by `fsync`: "interval" (default: the writer thread fdatasyncs at most every `fsync_interval_s`,
so at most that window can be lost), "always" (fdatasync before every answer: survives power
loss, costs a disk flush per call on the event loop) or "off". A line cut by a crash is skipped
on replay (it is the only line that can be: its answer was never released).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("fireline.gateway.spool")

SUFFIX = ".jsonl"
READ_BYTES = 4 * 1024 * 1024
FSYNC_MODES = ("off", "interval", "always")


@dataclass(eq=False)
class Segment:
    """One spool file: appended by its owner, read and stored by the writer thread."""

    path: Path
    fd: int  # read/append descriptor; holds the flock
    size: int  # bytes appended so far (what the writer may read)
    done: int  # bytes stored in the database (persisted in the .done file)
    records: int = 0  # lines appended by this process (for the depth gauge)
    stored: int = 0  # lines stored
    sealed: bool = False  # no more appends (rotated, or adopted from a dead process)
    done_fd: int = -1
    unsynced: bool = False

    @property
    def done_path(self) -> Path:
        return self.path.with_suffix(".done")

    def save_done(self) -> None:
        if self.done_fd < 0:
            self.done_fd = os.open(self.done_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(self.done_fd, b"%020d\n" % self.done, 0)

    def close(self) -> None:
        for fd in (self.fd, self.done_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd = self.done_fd = -1

    def remove(self) -> None:
        """Delete a fully stored segment (unlink first, so the lock is held until it is gone)."""
        for path in (self.path, self.done_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.close()


def _read_done(path: Path) -> int:
    try:
        return int(path.with_suffix(".done").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


@dataclass(eq=False)
class Spool:
    directory: Path
    fsync: str = "interval"
    segment_bytes: int = 64 * 1024 * 1024
    owner: str = field(default_factory=lambda: f"gw-{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}")

    def __post_init__(self) -> None:
        if self.fsync not in FSYNC_MODES:
            raise ValueError(f"gateway.spool_fsync must be one of {', '.join(FSYNC_MODES)}")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.seq = 0
        self.segments: deque[Segment] = deque()  # in replay order: adopted first, then ours
        self.lock = threading.Lock()  # appends (event loop) vs rotation bookkeeping (writer)
        self.active = self._open_segment()
        self.errors = 0

    # ---- the owner's side (event loop) ----

    def _open_segment(self) -> Segment:
        self.seq += 1
        path = self.directory / f"{time.time_ns():020d}-{self.owner}-{self.seq:06d}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if not _lock(fd):  # cannot happen for a fresh name; refuse rather than share a file
            os.close(fd)
            raise OSError(f"spool segment {path.name} is locked by another process")
        segment = Segment(path=path, fd=fd, size=0, done=0)
        segment.save_done()
        if self.fsync != "off":  # the new file's name must survive a power cut too, not only its data
            self._sync_directory()
        self.segments.append(segment)
        return segment

    def _sync_directory(self) -> None:
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            log.warning("gateway spool: could not sync the spool directory: %s", exc)

    def append(self, line: bytes) -> None:
        """Write one record (ending in a newline) before its answer is released. Raises OSError
        (disk full, I/O error): the caller keeps the call in memory instead."""
        with self.lock:
            segment = self.active
            written = os.write(segment.fd, line)
            if written != len(line):  # a short write (disk full): cut the partial line off again
                os.ftruncate(segment.fd, segment.size)
                raise OSError(28, "short write to the gateway spool")
            if self.fsync == "always":
                os.fdatasync(segment.fd)
            else:
                segment.unsynced = True
            segment.size += written
            segment.records += 1
            if segment.size >= self.segment_bytes:
                segment.sealed = True
                self.active = self._open_segment()

    # ---- the writer's side (writer thread) ----

    def adopt_orphans(self) -> int:
        """Take over segments of processes that died (their lock is free). Returns how many."""
        mine = {s.path for s in self.segments}
        adopted = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path in mine:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # its owner just finished it
            if not _lock(fd):
                os.close(fd)
                continue  # a live process owns it
            if not path.exists():  # removed between listing and locking
                os.close(fd)
                continue
            size = os.fstat(fd).st_size
            adopted.append(Segment(path=path, fd=fd, size=size, done=min(_read_done(path), size), sealed=True))
        if adopted:
            with self.lock:
                # Replay the dead processes' calls before our own newer ones.
                for segment in reversed(adopted):
                    self.segments.appendleft(segment)
            log.warning("gateway spool: adopted %d segment(s) left by a stopped process", len(adopted))
        return len(adopted)

    def read(self, max_records: int) -> tuple[Segment, list[tuple[int, bytes]]] | None:
        """Up to `max_records` complete lines (end offset, line) after the stored mark of the
        oldest segment with unstored lines; None when everything is stored."""
        for segment in list(self.segments):
            limit = segment.size
            if segment.done >= limit:
                continue
            want = min(limit - segment.done, READ_BYTES)
            chunk = os.pread(segment.fd, want, segment.done)
            while b"\n" not in chunk and segment.done + len(chunk) < limit:  # one record longer than a read
                want = min(want * 2, limit - segment.done)
                chunk = os.pread(segment.fd, want, segment.done)
            lines: list[tuple[int, bytes]] = []
            start = 0
            while len(lines) < max_records:
                end = chunk.find(b"\n", start)
                if end < 0:
                    break
                lines.append((segment.done + end + 1, chunk[start:end]))
                start = end + 1
            if not lines:
                if segment.sealed and segment is not self.active:
                    # A line cut by a crash (no newline): skip it, it was never answered.
                    log.warning("gateway spool: %s ends with %d bytes of a cut record; skipped",
                                segment.path.name, limit - segment.done)
                    self.mark_stored(segment, limit, 0)
                    continue
                return None
            return segment, lines
        return None

    def mark_stored(self, segment: Segment, offset: int, count: int) -> None:
        segment.done = offset
        segment.stored += count
        segment.save_done()
        self.retire()

    def retire(self) -> None:
        """Delete sealed segments that are fully stored."""
        with self.lock:
            while self.segments:
                head = self.segments[0]
                if head is self.active or not head.sealed:
                    break
                if head.done < head.size:
                    break
                self.segments.popleft()
                head.remove()

    def sync(self) -> None:
        """fdatasync what was appended since the last call (the "interval" policy)."""
        for segment in list(self.segments):
            if segment.unsynced and segment.fd >= 0:
                segment.unsynced = False
                try:
                    os.fdatasync(segment.fd)
                except OSError as exc:
                    log.warning("gateway spool: fdatasync failed: %s", exc)

    def pending(self) -> int:
        """Records appended by this process and not stored yet (adopted segments not counted)."""
        return sum(s.records - s.stored for s in list(self.segments) if s.records)

    def pending_bytes(self) -> int:
        return sum(max((s.size or 0) - s.done, 0) for s in list(self.segments))

    def empty(self) -> bool:
        return all(s.done >= s.size for s in list(self.segments))

    def close(self, *, remove_stored: bool = True) -> None:
        """At shutdown: delete what is fully stored, release (keep) the rest for the next start."""
        with self.lock:
            for segment in self.segments:
                if remove_stored and segment.done >= segment.size:
                    segment.remove()
                else:
                    segment.close()
            self.segments.clear()
