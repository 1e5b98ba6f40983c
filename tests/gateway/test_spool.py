"""The gateway's spool: records in order, segments per process, orphans adopted and replayed,
a cut last line skipped, and a full disk that costs no call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.config import Config
from fireline.gateway.prepare import Helper
from fireline.gateway.spool import Spool
from fireline.gateway.writer import CallWriter
from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import APP, ask, client, rows, wait_rows
from tests.support.fireline import Fireline


def line(i: int) -> bytes:
    return orjson.dumps({"n": i}, option=orjson.OPT_APPEND_NEWLINE)


def drain(spool: Spool) -> list[int]:
    out = []
    while (got := spool.read(7)) is not None:
        segment, lines = got
        out += [orjson.loads(text)["n"] for _, text in lines]
        spool.mark_stored(segment, lines[-1][0], len(lines))
    return out


def test_records_come_back_in_order_across_segments_and_stored_segments_go(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=200)
    for i in range(100):
        spool.append(line(i))
    assert len(list(tmp_path.glob("*.jsonl"))) >= 5  # rolled over at 200 bytes
    assert spool.pending() == 100
    assert drain(spool) == list(range(100))
    assert spool.pending() == 0 and len(list(tmp_path.glob("*.jsonl"))) == 1  # only the active one is left
    spool.close()
    assert list(tmp_path.glob("*")) == []


def test_a_dead_process_segments_are_adopted_once_and_replayed_first(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    for i in range(10):
        dead.append(line(i))
    first = dead.read(4)
    assert first is not None
    dead.mark_stored(first[0], first[1][-1][0], 4)  # 4 stored before the "crash"
    alive = Spool(tmp_path)
    assert alive.adopt_orphans() == 0  # its owner still holds the lock
    for segment in list(dead.segments):
        segment.close()  # the process dies: its locks are released, its files stay
    alive.append(line(100))
    assert alive.adopt_orphans() == 1
    assert Spool(tmp_path).adopt_orphans() == 0  # adopted by one process only
    assert drain(alive) == [4, 5, 6, 7, 8, 9, 100]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=40), segment_bytes=st.integers(16, 400),
       reads=st.lists(st.integers(1, 9), max_size=8), cut=st.booleans(), generations=st.integers(1, 3))
def test_any_crash_replays_every_unstored_record_once_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                               sizes: list[int], segment_bytes: int,
                                                               reads: list[int], cut: bool, generations: int) -> None:
    """Whatever the record sizes, rollovers and how far the writer got before the process died
    (possibly mid-write), the next process replays exactly the records not marked stored, in order,
    then its own; and so on across several crashes."""
    directory = tmp_path_factory.mktemp("spool")
    appended: list[int] = []
    stored: list[int] = []
    n = 0
    for _ in range(generations):
        spool = Spool(directory, segment_bytes=segment_bytes)
        spool.adopt_orphans()
        for size in sizes:  # this process's answered calls
            spool.append(orjson.dumps({"n": n, "pad": "x" * size}, option=orjson.OPT_APPEND_NEWLINE))
            appended.append(n)
            n += 1
        for want in reads:  # how far its writer got
            got = spool.read(want)
            if got is None:
                break
            segment, lines = got
            stored += [orjson.loads(text)["n"] for _, text in lines]
            spool.mark_stored(segment, lines[-1][0], len(lines))
        if cut:
            os.write(spool.active.fd, b'{"n": -1, "pad": "cut by the cr')  # never answered
        for segment in list(spool.segments):
            segment.close()  # kill -9: locks released, files stay
    last = Spool(directory, segment_bytes=segment_bytes)
    last.adopt_orphans()
    stored += drain(last)
    assert stored == appended


def test_a_line_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    dead.append(line(1))
    dead.append(line(2))
    os.write(dead.active.fd, b'{"n": 3, "cut')  # the write a crash interrupted: no newline
    for segment in list(dead.segments):
        segment.close()
    alive = Spool(tmp_path)
    alive.adopt_orphans()
    assert drain(alive) == [1, 2]
    alive.retire()
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # the adopted segment is gone


def test_a_full_disk_keeps_calls_in_memory_and_stores_them(fl: Fireline, upstream: UpstreamServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    writer: CallWriter = fl.app.state.gateway.writer
    assert writer.spool is not None

    def no_space(_: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.spool, "append", no_space)
    c = client(fl)
    answers = [ask(c, f"question {i}") for i in range(5)]
    assert all(a.http_response.status_code == 200 for a in answers)
    assert wait_rows(fl.db, 5) == 5
    deadline = time.monotonic() + 10  # the rows are committed just before the queue lets go of them
    while writer.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.depth() == 0


def test_answered_calls_left_in_the_spool_are_stored_by_the_next_server(fl: Fireline, tmp_path: Path) -> None:
    # A spool a crashed server left in this server's data directory.
    from fireline.gateway.writer import encode

    spool_dir = Path(fl.app.state.data_dir) / "spool"
    crashed = Spool(spool_dir)
    for i in range(3):
        crashed.append(encode({"id": f"gw-crashed-{i}", "started": 1_780_000_000.0 + i, "app": APP, "user": None,
                               "tenant": "acme", "session": None, "prompt_version": None, "cohort": None,
                               "model_requested": "gpt-4o-mini", "stream": False, "retrieval": None,
                               "status": "ok", "latency_ms": 12.0,
                               "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                               "raw": b'{"choices": [{"message": {"role": "assistant", "content": "hello"}}]}'}))
    for segment in list(crashed.segments):
        segment.close()
    before = rows(fl.db)
    assert wait_rows(fl.db, before + 3, timeout=30) == before + 3  # adopted within the 10 s scan


def test_always_makes_each_record_durable_before_append_returns(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Power loss: with `spool_fsync: always` a record is on the disk (fdatasync of its segment) before
    append returns, i.e. before its answer is released; a new segment's name is synced with its directory."""
    synced: list[tuple[str, int]] = []  # (what, bytes in the file when synced)
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(fd: int) -> None:
        real_fdatasync(fd)
        synced.append(("data", os.fstat(fd).st_size))

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(("directory" if os.path.isdir(f"/proc/self/fd/{fd}") else "file", 0))

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    spool = Spool(tmp_path, fsync="always", segment_bytes=64)
    assert synced == [("directory", 0)]  # the first segment's name
    size = 0
    for i in range(6):
        record = line(i)
        synced.clear()
        spool.append(record)
        size += len(record)
        assert synced[0] == ("data", size), synced  # the whole record was synced before append returned
        if size >= 64:  # rotated: the next segment's name is synced too
            assert synced[1:] == [("directory", 0)]
            size = 0
    assert drain(spool) == list(range(6))


def test_interval_syncs_what_was_appended_since_the_last_sync(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (real_fdatasync(fd), synced.append(os.fstat(fd).st_size)))
    spool = Spool(tmp_path, fsync="interval")
    spool.append(line(1))
    spool.append(line(2))
    assert synced == []  # not on the request path
    spool.sync()  # the writer thread, every spool_fsync_interval_s
    assert synced == [len(line(1)) + len(line(2))]
    spool.sync()
    assert synced == [len(line(1)) + len(line(2))]  # nothing new: no flush


def test_the_spool_on_disk_holds_no_clear_content(fl: Fireline) -> None:
    marker, card = "wombatquartz", "4242 4242 4242 4242"
    before = rows(fl.db)
    answer = ask(client(fl), f"{marker}: charge my card {card}")
    assert answer.http_response.status_code == 200
    assert wait_rows(fl.db, before + 1) == before + 1
    spooled = b"".join(p.read_bytes() for p in (Path(fl.app.state.data_dir) / "spool").glob("*.jsonl"))
    assert spooled.count(b"\n") >= 1  # the call went through the spool (the active segment is kept)
    assert marker.encode() not in spooled and card.encode() not in spooled and b"support bot" not in spooled


def test_a_killed_preparing_process_is_replaced_and_no_call_is_lost(fl_helper: Fireline) -> None:
    fl = fl_helper
    writer: CallWriter = fl.app.state.gateway.writer
    assert writer.helper is not None  # the default: calls are prepared outside the serving process
    c = client(fl)
    before = rows(fl.db)
    ask(c, "one")
    assert wait_rows(fl.db, before + 1) == before + 1
    pool = writer.helper.pool
    assert pool is not None
    for pid in list(pool._processes):  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
    for i in range(5):
        ask(c, f"after {i}")
    assert wait_rows(fl.db, before + 6) == before + 6
    assert writer.helper is not None and writer.helper.pool is not pool  # a new one, not the writer thread


def test_the_preparing_process_runs_on_the_cpu_time_the_server_leaves(fl_helper: Fireline) -> None:
    """The helper is SCHED_IDLE (gateway.prepare_priority: idle, the default): a request waking the
    server takes the core from it at once. The serving process keeps its normal priority."""
    fl = fl_helper
    writer: CallWriter = fl.app.state.gateway.writer
    before = rows(fl.db)
    ask(client(fl), "one")
    assert wait_rows(fl.db, before + 1) == before + 1
    assert writer.helper is not None and writer.helper.pool is not None
    assert writer.helper._warm is not None
    assert writer.helper._warm.result(timeout=60)  # started: its initializer has run
    helpers = list(writer.helper.pool._processes)  # type: ignore[attr-defined]
    assert helpers and all(os.sched_getscheduler(pid) == os.SCHED_IDLE for pid in helpers)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_a_helper_late_with_a_job_leaves_the_work_to_its_caller_until_it_is_done() -> None:
    """An idle-priority helper gets no CPU while the cores are busy: after `late_s` the caller does
    the job itself, and the next ones too while the late job still runs there."""
    helper = Helper(Config(), priority="normal", late_s=0.3)
    try:
        deadline = time.monotonic() + 60
        while helper.call(subprocess.call, ["true"]) is None:  # None while the helper starts
            assert time.monotonic() < deadline
            time.sleep(0.1)
        started = time.monotonic()
        assert helper.call(subprocess.call, ["sleep", "3"]) is None  # late: the caller does it
        assert time.monotonic() - started < 2
        assert helper.call(subprocess.call, ["true"]) is None  # it is still on the late one
        while (answer := helper.call(subprocess.call, ["true"])) is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert answer == 0  # back to the helper once the late job is done
    finally:
        helper.close()


def test_a_preparing_process_that_cannot_run_leaves_the_work_to_the_writer_thread(
        fl_helper: Fireline, monkeypatch: pytest.MonkeyPatch) -> None:
    fl = fl_helper
    writer: CallWriter = fl.app.state.gateway.writer

    def broken(*_: object) -> None:
        raise BrokenProcessPool("cannot start")

    assert writer.helper is not None
    monkeypatch.setattr(writer.helper, "run", broken)
    c = client(fl)
    before = rows(fl.db)
    for i in range(3):
        ask(c, f"call {i}")
    assert wait_rows(fl.db, before + 3) == before + 3
    assert writer.helper is None


SERVER_KILLED = """
import os
from datetime import UTC, datetime

from fireline.config import Config
from fireline.gateway.prepare import Helper

if __name__ == "__main__":
    helper = Helper(Config())
    helper.run([], datetime.now(UTC))
    assert helper.pool is not None
    print(*helper.pool._processes, flush=True)
    os.kill(os.getpid(), 9)
"""


def test_a_server_killed_with_9_leaves_no_preparing_process_behind(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER_KILLED)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "FIRELINE_SECRET": "test-secret-" + "x" * 32}, cwd=tmp_path)
    pid = int(out.stdout.split()[0])

    def alive() -> bool:
        try:
            return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive()
