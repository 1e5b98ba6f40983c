"""The README's "Run it" and "Log every call" steps as a user types them: `fireline serve` configured
only by the CONTRACT's environment variables, the CLI as a subprocess, the real openai SDK through
the gateway. Most commands are forked from a helper that imported the CLI once
(tests/support/forkcli.py: their own process, real streams and exit code); some in each test run
through the installed `fireline` script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from fireline.simulator.upstream import UpstreamServer
from tests.support.forkcli import ForkCli
from tests.support.process import ServeProcess

FIRELINE = str(Path(sys.executable).with_name("fireline"))
FALLBACK = "Paused by the README test."


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, UpstreamServer]]:
    with UpstreamServer() as upstream:
        server = ServeProcess(f"sqlite:///{tmp_path}/fireline.db", tmp_path, admin_token="change-me",
                              upstream_url=upstream.base_url,
                              config={"apps": {"support-bot": {"fallback": FALLBACK}}},
                              env={"FIRELINE_UPSTREAM_KEY": "sk-upstream-readme"})
        server.start()
        try:
            yield server, upstream
        finally:
            server.stop()


def fireline(server: ServeProcess, *args: str, token: str | None = None, fork: ForkCli | None = None) -> str:
    """`fireline ARGS`: forked from the CLI helper when `fork` is given, else the installed script."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_URL=server.url, FIRELINE_DATABASE_URL=server.database_url, COLUMNS="80",
               FIRELINE_DATA_DIR=str(server.data_dir), FIRELINE_SECRET=server.env()["FIRELINE_SECRET"])
    if token:
        env["FIRELINE_TOKEN"] = token
    if fork is not None:
        done = fork.run(list(args), env=env, cwd=server.data_dir, timeout=120)
        assert done.returncode == 0, f"fireline {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout
    proc = subprocess.run([FIRELINE, *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=server.data_dir)
    assert proc.returncode == 0, f"fireline {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def new_key(server: ServeProcess, role: str, fork: ForkCli | None = None) -> str:
    out = fireline(server, "keys", "create", "--role", role, fork=fork)
    keys = [line.split()[1] for line in out.splitlines() if line.startswith("key ")]
    assert len(keys) == 1 and keys[0].startswith(f"fl_{role}_"), out
    return keys[0]


def test_readme_log_every_call(served: tuple[ServeProcess, UpstreamServer], fork_cli: ForkCli) -> None:
    server, upstream = served
    ingest = new_key(server, "ingest")  # the installed script
    viewer, responder = (new_key(server, role, fork_cli) for role in ("viewer", "responder"))
    resp = httpx.post(server.url + "/api/v1/calls", headers={"Authorization": f"Bearer {ingest}"}, json={
        "id": "c-1", "app": "support-bot", "tenant": "acme", "user": "alice@example.com",
        "input": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}], "output": "Thanks, noted."})
    assert resp.status_code == 201, resp.text
    assert "c-1" in fireline(server, "calls", "search", "--app", "support-bot", "--since", "1h", token=viewer,
                             fork=fork_cli)
    shown = fireline(server, "calls", "show", "c-1", token=viewer, fork=fork_cli)
    assert "<CREDIT_CARD>" in shown and "4111" not in shown
    assert "4111 1111 1111 1111" in fireline(server, "calls", "show", "c-1", "--reason", "INC-7", token=responder,
                                             fork=fork_cli)
    erased = fireline(server, "erase", "--user", "alice@example.com", token=responder)  # the installed script
    assert [line.split()[-2] for line in erased.splitlines() if "deleted calls" in line] == ["1"], erased


def test_the_environment_sets_upstream_key_admin_token_and_config(served: tuple[ServeProcess, UpstreamServer],
                                                                   fork_cli: ForkCli) -> None:
    server, upstream = served
    # FIRELINE_ADMIN_TOKEN seeded an admin key
    assert httpx.get(server.url + "/api/v1/keys", headers={"Authorization": "Bearer change-me"}).status_code == 200
    ingest = new_key(server, "ingest", fork_cli)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=ingest, max_retries=0)

    def ask() -> str | None:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], user="bob",
            extra_headers={"X-Fireline-App": "support-bot"}).choices[0].message.content

    assert ask() != FALLBACK
    # FIRELINE_UPSTREAM_URL is where the call went, with FIRELINE_UPSTREAM_KEY, not the caller's key
    sent = httpx.get(upstream.url + "/_requests").json()["requests"]
    assert sent and sent[-1]["authorization"] == "Bearer sk-upstream-readme"
    # FIRELINE_CONFIG's fallback answers once a kill switch is in force
    fireline(server, "controls", "apply", "kill_switch", "--app", "support-bot", "--reason", "readme",
             token=new_key(server, "responder", fork_cli))  # apply: the installed script
    assert ask() == FALLBACK
