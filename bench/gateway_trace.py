#!/usr/bin/env python3
"""Where the gateway's slowest answers wait: a traced `fireline serve` (bench/_gateway_trace_server.py)
in front of ../shared/peers' mock, pinned as bench/gateway_overhead.py pins them (load generator and
mock on the last core, the server's tree, helper included, on the others), one connection (wrk)
or an open loop (bench/_rate.py); then each request's time split into steps, for all requests and
for the slowest 1 %, with how much of it overlapped the writer thread's steps, the helper's work,
the spool's fdatasync and GC passes, and the event-loop thread's run-queue wait (time it was
runnable but another task had the core).

    .venv/bin/python bench/gateway_trace.py [--conc 1 | --rate 500] [--duration 10] [--config FILE]
        [--src DIR]   (another checkout's src/, e.g. the base of an A/B)
"""

from __future__ import annotations

import argparse
import bisect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _rate  # noqa: E402
from gateway_overhead import PEERS, TOKEN, load, peers, stop  # noqa: E402

STEPS = [("checks", "entry", "checked"), ("upstream", "checked", "submit"), ("spool", "submit", "submitted"),
         ("answer", "submitted", "exit")]
PERF_LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
KINDS = ["store", "helper", "open", "ingest", "write", "events", "fsync", "read"]


def overlap(spans: list[tuple[float, float]], t0: float, t1: float) -> float:
    return sum(max(0.0, min(t1, e) - max(t0, s)) for s, e in spans)


def tids(pid: int) -> set[int]:
    try:
        return {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    except OSError:
        return set()


def sched_intervals(path: Path, loop: int, kinds: dict[int, str]) -> list[tuple[float, float, str]]:
    """The event-loop thread's time from `perf record` of sched_switch / sched_waking (CLOCK_MONOTONIC):
    (start, end, what) with what = "run", "runq:<who had its CPU>" or "sleep:<who woke it>" (the
    mock: the upstream answered; the load generator: a request came; the writer thread or another of
    the server's threads: a GIL hand-off)."""
    out = subprocess.run(["perf", "script", "-i", str(path), "-F", "comm,tid,cpu,time,event,trace"],
                         capture_output=True, text=True).stdout
    current: dict[int, int] = {}
    what = lambda tid: kinds.get(tid, "idle" if tid == 0 else "others")  # noqa: E731
    spans: list[tuple[float, float, str]] = []
    state, since = "unknown", 0.0
    runq_from, runq_cpu = 0.0, -1
    # runnable stretches are split by who held the loop's CPU meanwhile
    for line in out.splitlines():
        m = PERF_LINE.match(line)
        if m is None:
            continue
        comm, tid, cpu, t = m[1], int(m[2]), int(m[3]), float(m[4])
        event, trace = m[5], m[6]
        if comm == "wrk" and tid not in kinds:
            kinds[tid] = "loadgen"
        if event.startswith("sched:sched_switch"):
            f = dict(kv.split("=", 1) for kv in trace.replace(" ==> ", " ").split() if "=" in kv)
            prev, nxt = int(f["prev_pid"]), int(f["next_pid"])
            if state == "runq" and cpu == runq_cpu and t > runq_from:  # the loop's CPU changes hands
                spans.append((runq_from, t, "runq:" + what(current.get(cpu, -1))))
                runq_from = t
            current[cpu] = nxt
            if prev == loop:
                spans.append((since, t, "run"))
                if f["prev_state"].startswith("R"):
                    state, since, runq_from, runq_cpu = "runq", t, t, cpu
                else:
                    state, since = "sleep", t
            if nxt == loop:
                if state == "runq" and t > runq_from:
                    spans.append((runq_from, t, "runq:" + what(prev)))
                state, since = "run", t
        elif event.startswith("sched:sched_waking"):
            f = dict(kv.split("=", 1) for kv in trace.split() if "=" in kv)
            if int(f["pid"]) == loop and state == "sleep":
                spans.append((since, t, "sleep:" + what(tid)))
                runq_cpu = int(f["target_cpu"])
                state, since, runq_from = "runq", t, t
    return spans


def attribute(reqs: list[dict[str, Any]], spans: list[tuple[float, float, str]]) -> None:
    starts = [s for s, _, _ in spans]
    for r in reqs:
        acc: dict[str, float] = {}
        i = max(0, bisect.bisect_right(starts, r["entry"]) - 1)
        while i < len(spans) and spans[i][0] < r["exit"]:
            s, e, w = spans[i]
            d = min(e, r["exit"]) - max(s, r["entry"])
            if d > 0:
                acc[w] = acc.get(w, 0.0) + d
            i += 1
        r["sched"] = acc


def report(trace: dict[str, Any], since: float, client: dict[str, Any],
           spans: list[tuple[float, float, str]] | None = None) -> None:
    reqs = [r for r in trace["requests"] if r["entry"] >= since and "submitted" in r]
    reqs.sort(key=lambda r: r["exit"] - r["entry"])
    total = [1000 * (r["exit"] - r["entry"]) for r in reqs]
    q = lambda p: total[min(len(total) - 1, int(p * len(total)))]  # noqa: E731
    print(f"client: p50 {client['p50_ms']:.2f} ms, p99 {client['p99_ms']:.2f} ms; server (arrival to answer "
          f"sent): p50 {q(0.5):.2f}, p99 {q(0.99):.2f}, max {total[-1]:.1f} ms over {len(reqs)} requests")
    slow = reqs[int(0.99 * len(reqs)):]
    by_kind = {k: [(s, e) for name, s, e, _ in trace["phases"] if name == k] for k in KINDS}
    gcs = [(s, s + d) for s, d, _, _ in trace["gcs"]]
    rows: list[tuple[str, Any]] = [(name, lambda r, a=a, b=b: 1000 * (r[b] - r[a])) for name, a, b in STEPS]
    rows += [("loop on CPU", lambda r: 1000 * r["cpu"]), ("loop run-queue", lambda r: 1000 * r["runq"])]
    rows += [(f"overlap {k}", lambda r, k=k: 1000 * overlap(by_kind[k], r["entry"], r["exit"])) for k in KINDS]
    rows += [("overlap GC", lambda r: 1000 * overlap(gcs, r["entry"], r["exit"]))]
    if spans:
        attribute(reqs, spans)
        names = sorted({w for r in reqs for w in r["sched"]})
        rows += [(f"[{w}]", lambda r, w=w: 1000 * r["sched"].get(w, 0.0)) for w in names]
    print(f"{'(ms per request)':22s} {'all mean':>9s} {'slow1% mean':>12s} {'slow1% max':>11s} {'slow1% >0':>10s}")
    for name, f in rows:
        a = [f(r) for r in reqs]
        s = [f(r) for r in slow]
        print(f"{name:22s} {sum(a) / len(a):9.3f} {sum(s) / len(s):12.3f} {max(s):11.3f} "
              f"{sum(1 for x in s if x > 0) / len(s):10.0%}")
    span = max(r["exit"] for r in reqs) - min(r["entry"] for r in reqs)
    for k in KINDS:
        ph = [(s, e, c) for name, s, e, c in trace["phases"] if name == k and s >= since]
        if ph:
            wall = sum(e - s for s, e, _ in ph)
            print(f"  {k:7s} {len(ph):5d} times, wall {1000 * wall / len(ph):7.2f} ms each ({wall / span:5.1%} "
                  f"of the run), thread CPU {1000 * sum(c for *_, c in ph) / len(ph):7.2f} ms each")
    g = [x for x in trace["gcs"] if x[0] >= since]
    print(f"  GC: {len(g)} passes, {sum(d for _, d, _, _ in g) * 1000:.1f} ms in all, longest "
          f"{max((d for _, d, _, _ in g), default=0) * 1000:.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conc", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0, help="open loop at this rate instead of wrk")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--config", default="")
    ap.add_argument("--src", default="", help="PYTHONPATH for the server (another checkout's src/)")
    ap.add_argument("--port", type=int, default=8793)
    ap.add_argument("--mock-port", type=int, default=9981)
    ap.add_argument("--perf", action="store_true", help="perf record sched events: who had the loop's CPU")
    args = ap.parse_args()
    go = peers()
    ncpu = os.cpu_count() or 1
    load_cpus, target_cpus = {ncpu - 1}, set(range(ncpu - 1))
    work = Path(tempfile.mkdtemp(prefix="fl-gwtrace-"))
    env = {**os.environ, "FIRELINE_DATABASE_URL": f"sqlite:///{work}/fireline.db", "FIRELINE_ADMIN_TOKEN": TOKEN,
           "FIRELINE_SECRET": "bench-secret", "FIRELINE_UPSTREAM_KEY": "sk-upstream",
           "FIRELINE_UPSTREAM_URL": f"http://127.0.0.1:{args.mock_port}/v1",
           "FIRELINE_TRACE_OUT": str(work / "trace.json")}
    src = args.src or str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + str(Path(__file__).resolve().parent)
    if args.config:
        env["FIRELINE_CONFIG"] = str(Path(args.config).resolve())
    body = go.body_json("gpt-4o-mini")
    (work / "body.json").write_bytes(body)
    lua = work / "post.lua"
    lua.write_text(go.LUA % {"body": work / "body.json", "auth": f'wrk.headers["Authorization"] = "Bearer {TOKEN}"'})
    mock = subprocess.Popen([sys.executable, str(PEERS / "mock_upstream.py"), "--port", str(args.mock_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: os.sched_setaffinity(0, load_cpus))
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_gateway_trace_server.py")), "serve",
                               "--port", str(args.port), "--log-level", "warning"], cwd=work, env=env,
                              stdout=(work / "log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base, url = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port}/v1/chat/completions"
    try:
        if not go.wait_http(f"http://127.0.0.1:{args.mock_port}/v1/models", 15, mock) or \
                not go.wait_http(base + "/v1/models", 180, server, TOKEN):
            raise SystemExit(f"did not start; see {work / 'log'}")
        go.pin_tree(server.pid, target_cpus)
        go.run_wrk(url, 1, 8, 1, str(lua), load_cpus)  # warm-up: the helper process starts (~4 s)
        time.sleep(1)
        go.pin_tree(server.pid, target_cpus)
        print(f"load before {load()}", flush=True)
        kinds: dict[int, str] = {}
        for pid in go.tree_pids(server.pid):
            for tid in tids(pid):
                kinds[tid] = "server" if pid == server.pid else "helper"
        for tid in tids(mock.pid):
            kinds[tid] = "mock"
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "sched:sched_switch", "-e", "sched:sched_waking",
                                     "-a", "-k", "CLOCK_MONOTONIC", "-o", str(work / "perf.data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        since = time.monotonic()
        if args.rate:
            os.sched_setaffinity(0, load_cpus)
            client = _rate.run(url, args.rate, args.duration, body, TOKEN)
        else:
            client = go.run_wrk(url, args.conc, args.duration, 1, str(lua), load_cpus)
        print(f"load after {load()}", flush=True)
        if perf is not None:
            perf.send_signal(2)
            perf.wait(60)
        time.sleep(1)
        server.terminate()
        server.wait(60)
        trace = orjson.loads((work / "trace.json").read_bytes())
        spans = None
        if perf is not None:
            for tid, name in trace["threads"].items():
                if tid.isdigit():
                    kinds[int(tid)] = name
            kinds[os.getpid()] = "loadgen"
            spans = sched_intervals(work / "perf.data", int(trace["threads"]["loop"]), kinds)
        report(trace, since, client, spans)
    finally:
        stop(server)
        stop(mock)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
