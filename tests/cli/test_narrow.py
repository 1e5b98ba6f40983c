"""The CLI at 80 columns, run for real against the running demo: every list fits, ids are whole,
`--wide` and `--json` give the rest, and the pagination hint is an option that works. The first
command of each test runs through the installed `fireline` script, the others are forked from a
helper that imported the CLI once (tests/support/forkcli.py: their own process, real streams)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.demo import FIRELINE, Demo, env, running_demo
from tests.support.forkcli import ForkCli

# the first test also starts the shared demo (seconds alone, minutes on a loaded machine)
pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo"), history_hours=6) as d:
        yield d


def cli(demo: Demo, *args: str, columns: int = 80, role: str = "admin", fork: ForkCli | None = None) -> str:
    """`fireline ARGS`: forked from the CLI helper when `fork` is given, else the installed script."""
    e = {**env(), "COLUMNS": str(columns), "FIRELINE_URL": demo.url, "FIRELINE_TOKEN": demo.keys[role]}
    if fork is not None:
        done = fork.run(list(args), env=e, cwd=Path.cwd(), timeout=180)
        assert done.returncode == 0, f"fireline {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout
    proc = subprocess.run([FIRELINE, *args], env=e, capture_output=True, text=True, timeout=180, cwd=Path.cwd())
    assert proc.returncode == 0, f"fireline {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def fits(out: str, width: int = 80) -> None:
    long = [line for line in out.splitlines() if len(line) > width and not line.startswith("more:")]
    assert not long, "lines wider than the terminal:\n" + "\n".join(long)


def whole(out: str, ids: list[str]) -> None:
    assert ids, "nothing to look for"
    missing = [i for i in ids if i not in out]
    assert not missing, f"ids cut or missing: {missing}\n{out}"


def test_every_list_fits_80_columns_with_whole_ids(demo: Demo, fork_cli: ForkCli) -> None:
    inc = demo.incident
    with demo.client() as http:
        incidents = [i["id"] for i in http.get("/api/v1/incidents").json()["incidents"]]
        calls = [c["id"] for c in http.get("/api/v1/calls", params={"limit": 10}).json()["calls"]]
        controls = [c["id"] for c in http.get("/api/v1/controls", params={"all": "true"}).json()["controls"]]
        obligations = [o["id"] for o in http.get(f"/api/v1/incidents/{inc}/obligations").json()["obligations"]]
        replays = [r["id"] for r in http.get(f"/api/v1/incidents/{inc}/replays").json()["replays"]]
        queue = [c["call_id"] for c in http.get(f"/api/v1/incidents/{inc}/labels/queue",
                                                params={"n": 5}).json()["calls"]]
        monitors = [m["name"] for m in http.get("/api/v1/monitors").json()["monitors"]]
        http.post(f"/api/v1/incidents/{inc}/evals").raise_for_status()
        suites = [s["id"] for s in http.get("/api/v1/evals").json()["evals"]]
    commands: list[tuple[tuple[str, ...], list[str]]] = [
        (("incident", "list"), incidents),
        (("calls", "search", "--limit", "10"), calls),
        (("controls", "list", "--all"), controls),
        (("obligations", inc), obligations),
        (("replays", inc), replays),
        (("labels", "queue", inc, "-n", "5"), queue),
        (("monitors",), monitors),
        (("eval", "list"), suites),
        (("incident", "timeline", inc), []),
    ]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda c: cli(demo, *c[0], fork=None if c is commands[0] else fork_cli), commands))
    for (_, ids), out in zip(commands, outs, strict=True):
        fits(out)
        if ids:
            whole(out, ids)
        else:  # the timeline reads as sentences, not JSON
            assert "opened the incident" in out and '{"' not in out, out


def test_wide_and_json_give_every_field(demo: Demo, fork_cli: ForkCli) -> None:
    narrow = cli(demo, "controls", "list", "--all")
    wide = cli(demo, "controls", "list", "--all", "--wide", fork=fork_cli)
    assert "params" not in narrow.split("\n", 3)[1] and "incident" in wide and "expires" in wide
    rows = json.loads(cli(demo, "controls", "list", "--all", "--json", fork=fork_cli))["controls"]
    assert rows and all(r["id"] in wide for r in rows)
    timeline = cli(demo, "incident", "timeline", demo.incident, "--wide", columns=200, fork=fork_cli)
    assert "control.applied" in timeline


def test_pagination_hint_is_an_option_that_works(demo: Demo, fork_cli: ForkCli) -> None:
    first = cli(demo, "calls", "search", "--limit", "3")
    hint = [line for line in first.splitlines() if line.startswith("more:")]
    assert hint, first
    cursor = hint[0].split("--cursor", 1)[1].strip()
    second = json.loads(cli(demo, "calls", "search", "--limit", "3", "--cursor", cursor, "--json",
                            fork=fork_cli))["calls"]
    page1 = json.loads(cli(demo, "calls", "search", "--limit", "3", "--json", fork=fork_cli))["calls"]
    assert len(second) == 3 and not {c["id"] for c in second} & {c["id"] for c in page1}
    assert second[0]["started_at"] <= page1[-1]["started_at"]
