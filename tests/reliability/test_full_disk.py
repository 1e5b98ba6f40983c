"""A full disk under gateway and native traffic: the kernel refuses every write of the server
(its file-size limit lowered to 1 byte with prlimit, so each write() fails as on a full disk:
the spool's appends and SQLite's WAL alike). The gateway keeps answering (calls held in memory),
native ingest answers 503 with Retry-After, nothing half-written; once the disk takes writes
again every answered call is stored."""

from __future__ import annotations

import asyncio
import resource
import shutil
from pathlib import Path

import httpx
import pytest

from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.reliability.conftest import ingest_key, serve
from tests.reliability.load import Http, Outcome, client, gateway_call, native_batch, open_loop, wait_stored

pytestmark = pytest.mark.timeout(300)
RATE, FULL_S = 50.0, 4.0


def test_a_full_disk_loses_no_answered_call(sqlite_template: Path, upstream: UpstreamServer,
                                            tmp_path: Path) -> None:
    path = tmp_path / "fireline.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with serve(url, tmp_path / "data", upstream) as server:
        key = ingest_key(server)
        assert server.proc is not None
        pid = server.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)

        async def scenario() -> tuple[list[Outcome], list[Outcome], int]:
            async def gw(http: Http, i: int) -> Outcome:
                return await gateway_call(http, i, key)

            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))  # the disk is full
            try:
                async with client(server.url) as session:
                    native = [await native_batch(Http(server.url, session), i, key, prefix="full-disk")
                              for i in range(3)]
                outcomes = await open_loop(server.url, RATE, FULL_S, gw)
                depth = await asyncio.to_thread(spool_errors, server.url)
            finally:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))  # space again
            return outcomes, native, depth

        outcomes, native, spool_errors_seen = asyncio.run(scenario())
        answered = [i for o in outcomes if o.answered_2xx for i in o.ids]
        found = wait_stored(Database(url), answered, timeout=120)
        print(f"\nfull disk {FULL_S:.0f} s at {RATE:.0f} req/s: {len(answered)}/{len(outcomes)} gateway requests "
              f"answered, {spool_errors_seen} spool writes refused, {len(set(answered) - found)} answered calls "
              f"missing once the disk took writes again; native: {[(o.status, o.detail) for o in native]}")
        assert all(o.answered_2xx for o in outcomes), [o for o in outcomes if not o.answered_2xx][:3]
        assert spool_errors_seen >= len(outcomes)  # every call went through the in-memory path
        assert [o.status for o in native] == [503] * len(native)  # nothing half-written, the sender retries
        assert all(o.detail.startswith("retry-after=") and o.detail != "retry-after=None" for o in native)
        assert set(answered) - found == set()
        r = httpx.post(server.url + "/api/v1/calls", json={"app": "support-bot", "output": "after"},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 201, r.text


def spool_errors(url: str) -> int:
    from tests.reliability.conftest import ADMIN_TOKEN

    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30).text
    return int(sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("fireline_gateway_spool_errors_total")))
