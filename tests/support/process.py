"""`fireline serve` as a real child process (for restarts, kill -9 and several processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from fireline.serving import free_port


class ServeProcess:
    """One `fireline serve` on loopback; its log goes to `<data_dir>/serve-<port>.log`."""

    def __init__(self, database_url: str, data_dir: Path, *, admin_token: str, port: int | None = None,
                 upstream_url: str | None = None, config: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.database_url, self.data_dir, self.admin_token = database_url, data_dir, admin_token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream_url, self.config, self.extra_env = upstream_url, config, env or {}
        self.workers = workers  # `serve` defaults to one per core on PostgreSQL; tests say how many
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"serve-{self.port}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
        env.update({"FIRELINE_DATABASE_URL": self.database_url, "FIRELINE_DATA_DIR": str(self.data_dir),
                    "FIRELINE_ADMIN_TOKEN": self.admin_token,
                    "FIRELINE_SECRET": os.environ.get("FIRELINE_SECRET", "test-secret-not-for-production")})
        if self.upstream_url:
            env["FIRELINE_UPSTREAM_URL"] = self.upstream_url
        if self.config is not None:
            path = self.data_dir / f"config-{self.port}.yaml"
            path.write_text(yaml.safe_dump(self.config))
            env["FIRELINE_CONFIG"] = str(path)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> ServeProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fireline.cli.main", "serve", "--port", str(self.port), "--log-level", "warning",
             "--workers", str(self.workers)],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fireline serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"fireline serve did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM), kill -9 if it does not end in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
