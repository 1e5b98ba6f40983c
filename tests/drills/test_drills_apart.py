"""Drills apart: a drill's incident is marked end to end. It reaches only channels marked for drills
(tagged [DRILL], PagerDuty on its drill routing key), opens no disclosure clock (shown as "would
open"), changes nothing on the public status page, counts only in the drill metrics, and every
control it put in force is reverted and checked. And every shipped scenario passes against a fresh
`fireline serve` with no config at all (each its own server: on one shared server the rollback
playbooks look at the version before onset, which earlier drills on the same version make moot)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fireline.config import DRILL_APP_CONFIG
from fireline.db import Database
from fireline.drills.runner import Drill
from fireline.drills.scenario import builtin_names, load
from fireline.serving import free_port
from fireline.simulator.upstream import UpstreamServer
from tests.comms.support import comms_config, http_receiver, wait_for
from tests.support.fireline import running

APP = "support-bot"  # a real, public app with automatic public state: the drill must not touch it


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text (0 when the series does not exist yet)."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


def test_a_drill_leaves_nothing_outside_drill_channels_and_drill_metrics(db: Database,
                                                                          upstream: UpstreamServer) -> None:
    with http_receiver() as http:
        channels = {"hook": {"type": "webhook", "url": f"{http.url}/hook"},
                    "chat": {"type": "slack", "url": f"{http.url}/slack"},
                    "pager": {"type": "pagerduty", "routing_key": "REAL-SERVICE", "url": f"{http.url}/pd",
                              "drill_routing_key": "DRILL-SERVICE"},
                    "drills": {"type": "webhook", "url": f"{http.url}/drills", "drill": True}}
        config = comms_config(notifications={"channels": channels},
                              apps={APP: {**DRILL_APP_CONFIG, "public": True, "public_status": "automatic"}},
                              auto_contain={"data_leakage": ["P0"]})
        with running(db, config, upstream_url=upstream.base_url) as fl, fl.client("admin") as c:
            before = c.get("/metrics").text
            report = Drill(load("data_leak"), url=fl.url, token=fl.keys["admin"], app=APP, auto_ack=True,
                           contain=True, timeout=15).run()
            assert report.detected and report.contained and report.gaps == [], report.gaps
            inc = c.get(f"/api/v1/incidents/{report.incident['id']}").json()  # type: ignore[index]
            assert inc["drill"] is True and inc["state"] == "closed"

            # Channels: the drill channel and the drill PagerDuty service only, every message tagged.
            drills = wait_for(lambda: len(http.on("/drills")) >= 4 and http.on("/drills"), what="drill messages")
            assert all(r.json()["drill"] is True and r.json()["subject"].startswith("[DRILL]") for r in drills)
            assert [r.json()["event"] for r in drills][:2] == ["opened", "contained"]
            pages = wait_for(lambda: http.on("/pd"), what="the drill page")
            assert {r.json()["routing_key"] for r in pages} == {"DRILL-SERVICE"}
            assert pages[0].json()["payload"]["summary"].startswith("[DRILL]")
            time.sleep(0.5)
            assert http.on("/hook") == [] and http.on("/slack") == []

            # Disclosure: what would open, never opened.
            obs = c.get(f"/api/v1/incidents/{inc['id']}/obligations").json()
            assert obs["obligations"] == [] and obs["questions"] == []
            assert [(w["kind"], w["status"]) for w in obs["would_open"]] == [("gdpr_art33", "would_open")]
            assert "obligation_opened" not in [e["kind"] for e in
                                               c.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["entries"]]

            # The public status page: the drill's app stays operational, no incident listed.
            page = httpx.get(f"{fl.url}/status.json").json()
            assert {x["name"]: x["status"] for x in page["components"]}[APP] == "operational"
            assert page["incidents"] == []

            # Metrics: drill series only; the real MTTA/MTTR and incident counts unchanged.
            after = c.get("/metrics").text
            labels = {"severity": "P0", "type": "data_leakage"}
            for name in ("fireline_incident_time_to_acknowledge_seconds_count",
                         "fireline_incident_time_to_contain_seconds_count",
                         "fireline_incident_time_to_resolve_seconds_count"):
                assert metric(after, name, **labels) == metric(before, name, **labels), name
            assert metric(after, "fireline_incidents_opened_total", **labels, source="monitor") == \
                metric(before, "fireline_incidents_opened_total", **labels, source="monitor")
            assert metric(after, "fireline_drill_time_to_acknowledge_seconds_count", **labels) == \
                metric(before, "fireline_drill_time_to_acknowledge_seconds_count", **labels) + 1
            assert metric(after, "fireline_drill_incidents_opened_total", **labels, source="monitor") >= 1

            # Every control the drill put in force is reverted, and the report says it checked.
            assert c.get("/api/v1/controls").json()["controls"] == []
            assert report.cleanup["left_active"] == [] and len(report.cleanup["reverted"]) >= 2
            assert report.cleanup["incident_state"] == "closed"


@pytest.mark.parametrize("name", builtin_names())
def test_every_shipped_scenario_passes_against_a_fresh_fireline_serve(name: str, tmp_path: Path,
                                                                      upstream: UpstreamServer) -> None:
    """No config file: the built-in drill app (its registry, tool classes and prices) is what the
    scenarios need; the drill leaves nothing behind."""
    fireline = str(Path(sys.executable).with_name("fireline"))
    port, token = free_port(), "drill-admin-token-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'fireline.db'}", FIRELINE_SECRET="drill-secret",
               FIRELINE_ADMIN_TOKEN=token, FIRELINE_UPSTREAM_URL=upstream.base_url, COLUMNS="200")
    server = subprocess.Popen([fireline, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        proc = subprocess.run([fireline, "drill", "-s", name, "--auto-ack", "--contain", "--timeout", "20",
                               "--out", str(tmp_path / "reports")], cwd=tmp_path, capture_output=True, text=True,
                              env={**env, "FIRELINE_URL": url, "FIRELINE_TOKEN": token}, timeout=240)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "marked as a drill" in out and re.search(r"0 left active, incident closed", out), out
        left = httpx.get(f"{url}/api/v1/controls", headers={"Authorization": f"Bearer {token}"}).json()
        assert left["controls"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)
