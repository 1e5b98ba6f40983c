"""A machine whose cores are all busy: the gateway's calls are still stored (and so detected).

The gateway's helper process prepares calls at idle CPU priority (gateway.prepare_priority: idle),
so with every core held by other work it gets next to nothing. Past `gateway.prepare_late_s` the
writer thread prepares the batch itself; without that bound, 20 of 304 calls were stored after
90 s here."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.gateway.writer import CallWriter
from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import CONFIG, ask, client, rows, wait_rows
from tests.support.fireline import running

CALLS = 300


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_calls_are_stored_within_the_bound_while_every_core_is_busy(db: Database,
                                                                   upstream: UpstreamServer) -> None:
    upstream.reset()
    config = Config.model_validate({**CONFIG, "gateway": {**CONFIG["gateway"], "prepare_process": True,
                                                          "prepare_late_s": 1.0}})
    with running(db, config, upstream_url=upstream.base_url) as fl:
        writer: CallWriter = fl.app.state.gateway.writer
        c = client(fl)
        before = rows(fl.db)
        ask(c, "warm up")
        assert wait_rows(fl.db, before + 1) == before + 1
        assert writer.helper is not None and writer.helper._warm is not None
        assert writer.helper._warm.result(timeout=60)  # the helper prepares from now on
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 2) + 1)]
        try:
            time.sleep(0.5)
            text = "my name is John Smith and I live at 12 Main Street, Springfield; call me on 555-0100. "
            for i in range(CALLS):
                assert ask(c, f"{i}: {text * 4}").http_response.status_code == 200
            assert wait_rows(fl.db, before + 1 + CALLS, timeout=45) == before + 1 + CALLS
        finally:
            for p in busy:
                p.kill()
                p.wait()
