"""`fireline demo` running for real in a subprocess: a server with the demo's incident, controls,
obligations, replay and hours of past traffic, shared by the console and CLI tests of a module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fireline.serving import free_port

FIRELINE = str(Path(sys.executable).with_name("fireline"))


@dataclass
class Demo:
    url: str
    keys: dict[str, str]
    incident: str
    output: list[str] = field(default_factory=list)

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=30)


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    out["COLUMNS"] = "200"
    return out


@contextmanager
def running_demo(workdir: Path, *, history_hours: float = 30, warmup: float = 2) -> Iterator[Demo]:
    """Starts `fireline demo`, waits for its story to end, makes keys of every role, stops it after."""
    port = free_port()
    proc = subprocess.Popen([FIRELINE, "demo", "--port", str(port), "--warmup", str(warmup),
                             "--history", str(history_hours), "--dir", str(workdir / "demo-out")],
                            cwd=workdir, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "admin key:" in line:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 180
        while not ready.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the demo did not come up:\n" + "\n".join(lines))
        text = "\n".join(lines)
        admin = re.search(r"admin key: (\S+)", text)
        incident = re.search(r"incident (INC-[0-9A-Z]+) opened", text)
        assert admin and incident, text
        url = f"http://127.0.0.1:{port}"
        keys = {"admin": admin.group(1)}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=30) as http:
            for role in ("viewer", "responder", "ingest"):
                keys[role] = http.post("/api/v1/keys", json={"role": role, "name": f"test-{role}"}).json()["key"]
        yield Demo(url=url, keys=keys, incident=incident.group(1), output=lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
