"""kill -9 of the server under gateway and native traffic, three times: every call that was
answered (gateway) or acknowledged (native 201) is in the log after the restarts."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.reliability.conftest import ingest_key, serve
from tests.reliability.load import Http, Outcome, gateway_call, native_batch, open_loop, wait_stored

pytestmark = pytest.mark.timeout(600)
RUNS = 3
GATEWAY_RATE, NATIVE_RATE = 150.0, 20.0
# The kill lands mid-traffic; requests sent after it are only refused (nothing answered to check),
# so the traffic goes on half a second past it, not longer.
KILL_AT_S = 2.5
TRAFFIC_S = KILL_AT_S + 0.5


def test_kill_9_under_traffic_loses_no_answered_or_acknowledged_call(db: Database, upstream: UpstreamServer,
                                                                     tmp_path: Path) -> None:
    url = db.url
    db.upgrade()
    server = serve(url, tmp_path / "data", upstream)
    outcomes: list[Outcome] = []
    key = ""
    for run in range(RUNS):
        server.start()
        key = key or ingest_key(server)

        async def traffic(run: int = run, key: str = key) -> list[Outcome]:
            async def gw(http: Http, i: int) -> Outcome:
                return await gateway_call(http, i, key)

            async def native(http: Http, i: int) -> Outcome:
                return await native_batch(http, i, key, prefix=f"kill9-{run}")

            async def kill_later() -> None:
                await asyncio.sleep(KILL_AT_S)
                assert server.proc is not None
                os.kill(server.proc.pid, signal.SIGKILL)  # mid-traffic: requests in flight are cut

            results = await asyncio.gather(open_loop(server.url, GATEWAY_RATE, TRAFFIC_S, gw),
                                           open_loop(server.url, NATIVE_RATE, TRAFFIC_S, native), kill_later())
            return [*results[0], *results[1]]

        outcomes += asyncio.run(traffic())
        server.kill()  # reaps the process
    server.start()  # the last restart replays what the last kill left in the spool
    try:
        answered = [i for o in outcomes if o.answered_2xx for i in o.ids]
        found = wait_stored(db, answered, timeout=120)
    finally:
        server.stop()
    gateway_ok = sum(o.answered_2xx for o in outcomes if o.kind == "gateway")
    native_ok = sum(o.answered_2xx for o in outcomes if o.kind == "native")
    cut = sum(o.status is None for o in outcomes)
    print(f"\nkill -9 x{RUNS} on {db.dialect}: {gateway_ok} gateway calls answered, {native_ok} native batches "
          f"acknowledged, {cut} requests cut by the kills; {len(set(answered) - found)} of {len(answered)} "
          "answered/acknowledged calls missing after restart")
    assert gateway_ok > RUNS * GATEWAY_RATE * KILL_AT_S * 0.5 and native_ok > 0
    assert set(answered) - found == set()
