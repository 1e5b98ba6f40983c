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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fireline_server(database_url: str | None = None, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Yields (url, pid). Without a URL the database is a fresh SQLite file."""
    tmp = tempfile.mkdtemp(prefix="fireline-bench-")
    port = free_port()
    full_env = {**os.environ, "FIRELINE_DATABASE_URL": database_url or f"sqlite:///{tmp}/fireline.db",
                "FIRELINE_ADMIN_TOKEN": ADMIN, "FIRELINE_SECRET": "bench-secret", **(env or {})}
    full_env.pop("FIRELINE_CONFIG", None) if "FIRELINE_CONFIG" not in (env or {}) else None
    fireline = str(Path(sys.executable).with_name("fireline"))
    proc = subprocess.Popen([fireline, "serve", "--port", str(port), "--log-level", "warning"], env=full_env,
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
        proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
