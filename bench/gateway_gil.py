#!/usr/bin/env python3
"""GIL held per gateway call in the serving process, by thread: what the tail at one process comes from.

Starts `fireline serve` on a fresh SQLite file in front of ../shared/peers/mock_upstream.py, warms it
(the helper process started), then sends an open loop (bench/_rate.py) at --rate req/s for --duration
seconds while py-spy (`record --gil --nonblocking`) samples the server over the run and the drain.
Prints, per call answered, the milliseconds of GIL held by the event loop, the writer thread, the
process pool's result thread and the other threads, with the open loop's latencies and the load
average. With --base SRC it alternates runs of the checkout at SRC (its `src/`, via PYTHONPATH) and
this one, --rounds times: an A/B on one harness.

    .venv/bin/python bench/gateway_gil.py [--rate 200] [--duration 15] [--rounds 2] [--base ../main]

Needs py-spy (`pip install py-spy`) and permission to attach (root, or ptrace_scope 0).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _rate  # noqa: E402
from gateway_overhead import PEERS, TOKEN, load, peers, stop, stored  # noqa: E402

BIN = Path(sys.executable).parent
HZ = 200


def role(frames: list[str]) -> str:
    stack = ";".join(frames)
    if "CallWriter._run" in stack:
        return "writer"
    if "_ExecutorManagerThread" in stack:
        return "pool_results"
    if frames and frames[0].startswith("Thread._bootstrap"):
        return "other_threads"
    return "event_loop"


def one(go: Any, name: str, src: str | None, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="fl-gil-"))
    db = work / "fireline.db"
    env = {**os.environ, "FIRELINE_DATABASE_URL": f"sqlite:///{db}", "FIRELINE_ADMIN_TOKEN": TOKEN,
           "FIRELINE_SECRET": "bench-secret", "FIRELINE_UPSTREAM_KEY": "sk-upstream",
           "FIRELINE_UPSTREAM_URL": f"http://127.0.0.1:{args.mock_port}/v1"}
    if src:
        env["PYTHONPATH"] = src
    mock = subprocess.Popen([sys.executable, str(PEERS / "mock_upstream.py"), "--port", str(args.mock_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = subprocess.Popen([str(BIN / "fireline"), "serve", "--port", str(args.port), "--log-level", "warning"],
                              cwd=work, env=env, stdout=(work / "log").open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{args.port}"
    try:
        if not go.wait_http(f"http://127.0.0.1:{args.mock_port}/v1/models", 15, mock) or \
                not go.wait_http(url + "/v1/models", 180, server, TOKEN):
            raise SystemExit(f"the server did not start; see {work / 'log'}")
        body = go.body_json("gpt-4o-mini")
        _rate.run(url + "/v1/chat/completions", 100, 5, body, TOKEN)  # warm: the helper has started
        time.sleep(3)
        before = stored(db)
        samples = work / "gil.txt"
        spy = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(server.pid), "--gil", "--nonblocking",
                                "-r", str(HZ), "-f", "raw", "-o", str(samples), "-d", str(int(args.duration + 10))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        at = load()
        r = _rate.run(url + "/v1/chat/completions", args.rate, args.duration, body, TOKEN)
        t0 = time.monotonic()
        while stored(db) < before + r["answered"] and time.monotonic() - t0 < 60:
            time.sleep(0.2)
        drain = time.monotonic() - t0
        spy.wait(120)
        held: collections.Counter[str] = collections.Counter()
        for line in samples.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            held[role(stack.split(";"))] += int(n)
        per_call = {k: v / HZ * 1000 / max(1, r["answered"]) for k, v in held.items()}
        print(f"{name:5s} load {at} {args.rate:.0f}/s p50={r['p50_ms']:.2f} p99={r['p99_ms']:.2f} "
              f"max={r['max_ms']:.1f} ms drain={drain:.1f}s | GIL ms/call "
              + " ".join(f"{k}={v:.3f}" for k, v in sorted(per_call.items())), flush=True)
    finally:
        for proc in (server, mock):
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--base", default="", help="another checkout to alternate with (A/B)")
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--mock-port", type=int, default=9979)
    args = ap.parse_args()
    if not (BIN / "py-spy").exists():
        print("py-spy not found in the venv (pip install py-spy)", file=sys.stderr)
        return 2
    go = peers()
    variants = [("base", str(Path(args.base).resolve() / "src")), ("this", None)] if args.base else [("this", None)]
    for _ in range(args.rounds):
        for name, src in variants:
            one(go, name, src, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
