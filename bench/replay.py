"""Replay throughput: cases (judged answers) per second at concurrency 8 against the simulator.

Starts the scriptable upstream and `fireline serve` (SQLite) as subprocesses, logs 20 calls of a
cross-tenant leak (another tenant's canary in the output) through the native API, declares an
incident linking them, then replays it through the real API (`POST /incidents/{id}/replays`,
polled until done): every answer is judged by the incident's detectors (canary, pii, secrets).
Run twice: the current (faulty) model alone (every answer leaks, so every answer has findings), then
current beside the fixed model as the candidate (half the answers clean).
Beside it, from the same run: the same requests sent by a bare asyncio HTTP client at the same
concurrency with no judging, the ceiling the simulator and loopback allow on this machine.

The machine is shared (2 cores, other engineers' test runs): figures vary run to run; the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ADMIN, fireline_server, free_port  # noqa: E402

CANARY = "CANARY-globex-7f3a9c2e41"
FAULTY, FIXED = "gpt-4o-2024-08-06", "gpt-4o-2024-05-13"
QUESTIONS = [f"Question {i}: where is order A-{1000 + i} and when will it arrive?" for i in range(20)]


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    fireline = str(Path(sys.executable).with_name("fireline"))
    proc = subprocess.Popen([fireline, "upstream", "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    httpx.post(url + "/_script", json={"mode": "leak_canary", "params": {"token": CANARY},
                                       "match": {"model": FAULTY}}).raise_for_status()
    return proc, url


def seed(api: httpx.Client) -> str:
    api.post("/api/v1/canaries", json={"tenant": "globex", "token": CANARY}).raise_for_status()
    calls = [{"id": f"bench-{i}", "app": "support-bot", "tenant": "acme", "model": FAULTY, "prompt_version": "v12",
              "system_prompt": "You are ACME's friendly support assistant.",
              "input": [{"role": "user", "content": q}], "output": f"Reference {CANARY} for your order.",
              "input_tokens": 40, "output_tokens": 20} for i, q in enumerate(QUESTIONS)]
    api.post("/api/v1/calls", json={"calls": calls}).raise_for_status()
    inc = api.post("/api/v1/incidents", json={"title": "bench leak", "type": "data_leakage", "severity": "P1",
                                              "apps": ["support-bot"], "call_ids": [c["id"] for c in calls]})
    inc.raise_for_status()
    return str(inc.json()["id"])


def replay(api: httpx.Client, iid: str, n: int, model: str | None) -> dict:
    body = {"n": n, "concurrency": 8, **({"model": model} if model else {})}
    job = api.post(f"/api/v1/incidents/{iid}/replays", json=body)
    job.raise_for_status()
    rid = job.json()["id"]
    while True:
        got = api.get(f"/api/v1/incidents/{iid}/replays/{rid}").json()
        if got["state"] not in ("queued", "running"):
            return got
        time.sleep(0.2)


async def bare(url: str, model: str, total: int, concurrency: int = 8) -> float:
    """Requests per second of a plain client: no judging, no job, same concurrency."""
    body = {"model": model, "messages": [{"role": "system", "content": "You are ACME's friendly support assistant."},
                                         {"role": "user", "content": QUESTIONS[0]}]}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = list(range(total))
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def worker() -> None:
            while queue:
                queue.pop()
                (await http.post(url + "/v1/chat/completions", json=body)).raise_for_status()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=50, help="samples per case (20 cases)")
    args = parser.parse_args()
    up, up_url = start_upstream()
    config = Path(os.environ.get("TMPDIR", "/tmp")) / f"fireline-bench-replay-{os.getpid()}.yaml"
    config.write_text("apps:\n  support-bot:\n    models: [gpt-4o-2024-08-06, gpt-4o-2024-05-13]\n"
                      "evals:\n  replay: {max_samples: 100000}\n  verify: {auto: false}\n")
    try:
        env = {"FIRELINE_UPSTREAM_URL": up_url + "/v1", "FIRELINE_CONFIG": str(config)}
        with fireline_server(env=env) as (url, _pid), \
                httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60) as api:
            iid = seed(api)
            replay(api, iid, 2, None)  # warm-up: connections, detectors, imports
            figures = {}
            for label, model in (("faulty", None), ("fixed", FIXED)):
                done = replay(api, iid, args.n, model)
                arm = "candidate" if model else "current"
                result = done["result"]
                answers = sum(a["samples"] for a in result["summary"].values())  # every arm ran in the job
                figures[label] = (answers / result["seconds"], result["summary"][arm]["rate"])
                print(f"replay {label:6}: {answers} answers ({len(result['summary'])} arm(s)) judged in "
                      f"{result['seconds']:.2f} s = {figures[label][0]:.0f} cases/s at concurrency 8 "
                      f"({arm} failure rate {figures[label][1]:.2f})")
            ceiling = asyncio.run(bare(up_url, FAULTY, 20 * args.n))
            print(f"bare client, same simulator, concurrency 8, no judging: {ceiling:.0f} requests/s")
            load = os.getloadavg()[0]
            print(f"machine: {os.cpu_count()} cores shared with other engineers; load average {load:.1f}")
            print(f"RESULT replay cases_per_s_faulty={figures['faulty'][0]:.0f} "
                  f"cases_per_s_fixed={figures['fixed'][0]:.0f} bare_client_rps={ceiling:.0f} concurrency=8 "
                  f"load={load:.1f}")
    finally:
        up.terminate()
        up.wait(timeout=10)
        config.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
