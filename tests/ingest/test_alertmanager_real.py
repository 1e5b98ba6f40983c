"""A real Alertmanager (Debian package prometheus-alertmanager) posting to Fireline on loopback."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.db import Database
from tests.support.fireline import running
from tests.support.servers import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """
route:
  receiver: fireline
  group_by: [alertname, app]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: fireline
    webhook_configs:
      - url: {url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {key}
"""


@contextmanager
def alertmanager(tmp: Path, url: str, key: str) -> Iterator[str]:
    assert BINARY is not None
    (tmp / "am.yml").write_text(CONFIG.format(url=url, key=key))
    port = free_port()
    with open(tmp / "am.log", "w") as log:
        proc = subprocess.Popen([BINARY, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                                 "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not start: " + (tmp / "am.log").read_text()[-2000:])
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait(pred: Callable[[], bool], seconds: float = 25) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed "
                                           "(apt-get install prometheus-alertmanager)")
def test_real_alertmanager_fires_and_resolves(db: Database, tmp_path: Path,
                                              captured: list[tuple[str, Any]]) -> None:
    with running(db) as fl, alertmanager(tmp_path, fl.url, fl.keys["ingest"]) as am:
        now = datetime.now(UTC)
        alert = {"labels": {"alertname": "LLMRefusalSpike", "app": "support-bot", "severity": "warning",
                            "fireline_type": "capability_loss"},
                 "annotations": {"summary": "support-bot refusals at 4x baseline"},
                 "startsAt": now.isoformat(), "generatorURL": "http://prometheus.invalid/graph"}
        assert httpx.post(f"{am}/api/v2/alerts", json=[alert], timeout=5).status_code == 200
        assert _wait(lambda: any(t == "alert.fired" for t, _ in captured)), "no webhook within 25 s"
        fired = next(a for t, a in captured if t == "alert.fired")
        assert fired.dedup_key.startswith("alertmanager:") and "LLMRefusalSpike" in fired.dedup_key
        assert (fired.apps, fired.severity, fired.type) == (("support-bot",), "P2", "capability_loss")
        assert fired.title == "support-bot refusals at 4x baseline"

        with fl.client("responder") as http:  # the incidents part opened one for the group
            incidents = http.get("/api/v1/incidents").json()["incidents"]
            assert [(i["type"], i["severity"], i["apps"]) for i in incidents] == [
                ("capability_loss", "P2", ["support-bot"])]

        resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
        assert httpx.post(f"{am}/api/v2/alerts", json=[resolved], timeout=5).status_code == 200
        assert _wait(lambda: any(t == "alert.resolved" for t, _ in captured)), "no resolved webhook within 25 s"
        done = next(a for t, a in captured if t == "alert.resolved")
        assert done.dedup_key == fired.dedup_key
