"""Fixtures of the reliability suite: a private PostgreSQL cluster the tests may stop, the
scriptable upstream, and `fireline serve` as a child process the tests may kill.

Bounded for CI: the database outage lasts FIRELINE_OUTAGE_S seconds (10 by default; the issue's
60 s with FIRELINE_RELIABILITY_FULL=1, or bench/outage.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.simulator.upstream import UpstreamServer
from tests.reliability.pgcluster import PgCluster, pg_bin
from tests.support.process import ServeProcess

FULL = os.environ.get("FIRELINE_RELIABILITY_FULL") == "1"
OUTAGE_S = float(os.environ.get("FIRELINE_OUTAGE_S", "60" if FULL else "10"))
ADMIN_TOKEN = "fl-reliability-admin-token"
CONFIG: dict[str, Any] = {
    "apps": {"support-bot": {"fallback": "Support is paused; a person will reply shortly.",
                             "models": ["gpt-4o-2024-08-06", "gpt-4o-mini"],
                             "tools": {"issue_refund": "write", "lookup_order": "read"}}},
    "gateway": {"timeout_s": 10},
}


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    bin_dir = pg_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin) under CI=true")
        pytest.skip("PostgreSQL server binaries not found")
    cluster = PgCluster(bin_dir).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer(record=False) as server:
        yield server


def ingest_key(server: ServeProcess, role: str = "ingest") -> str:
    r = httpx.post(server.url + "/api/v1/keys", json={"role": role, "name": "reliability"},
                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def serve(database_url: str, data_dir: Path, upstream: UpstreamServer, **kw: Any) -> ServeProcess:
    return ServeProcess(database_url, data_dir, admin_token=ADMIN_TOKEN, upstream_url=upstream.base_url,
                        config=kw.pop("config", CONFIG), **kw)
