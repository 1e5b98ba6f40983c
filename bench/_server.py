"""Start `fireline serve` as a subprocess on a temp database for a benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ADMIN = "bench-admin-token"
# ../shared/peers: the harnesses and start scripts that measured the peers (LiteLLM, Phoenix, Presidio)
PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers"


def hot_path() -> str:
    """How the server's PII scanner and detectors will run: compiled (`make native`) or from their
    sources, and why (figures differ by about a third: say which one a figure is)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    from fireline import native

    state = native.inspect()
    return "compiled (mypyc)" if state == "compiled" else f"from source ({state})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fireline_server(database_url: str | None = None, env: dict[str, str] | None = None,
                    workers: int = 1, command: list[str] | None = None) -> Iterator[tuple[str, int]]:
    """Yields (url, pid). Without a URL the database is a fresh SQLite file. `workers` > 1 (PostgreSQL):
    that many worker processes on the port (`cpu_seconds` and `rss_mb` count them with the server).
    `command`: what runs in place of the `fireline` executable (bench/ingest_trace.py's traced server)."""
    tmp = tempfile.mkdtemp(prefix="fireline-bench-")
    port = free_port()
    full_env = {**os.environ, "FIRELINE_DATABASE_URL": database_url or f"sqlite:///{tmp}/fireline.db",
                "FIRELINE_ADMIN_TOKEN": ADMIN, "FIRELINE_SECRET": "bench-secret", **(env or {})}
    full_env.pop("FIRELINE_CONFIG", None) if "FIRELINE_CONFIG" not in (env or {}) else None
    if os.environ.get("FIRELINE_BENCH_CONFIG") and "FIRELINE_CONFIG" not in full_env:  # a bench's --config
        full_env["FIRELINE_CONFIG"] = os.environ["FIRELINE_BENCH_CONFIG"]
    fireline = str(Path(sys.executable).with_name("fireline"))
    proc = subprocess.Popen([*(command or [fireline]), "serve", "--port", str(port), "--log-level", "warning",
                             "--workers", str(workers)], env=full_env,
                            cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("fireline serve did not become healthy in 60 s")
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still working off a backlog the bench left: stop it anyway
            proc.kill()
            proc.wait(timeout=30)


def family(pid: int) -> list[int]:
    """The server and every live process under it: workers, and helper processes a thread started
    (a child belongs to the thread that made it: /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*") if Path(f"/proc/{p}/task").exists() else ():
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and the processes under it (family), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended since it was listed
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_mb(pid: int) -> float:
    """Peak resident memory of the server and its workers, summed."""
    total = 0.0
    for p in family(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total
