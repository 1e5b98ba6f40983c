"""Where the slowest answers of one-call-per-request ingest wait: the open-loop run of
bench/ingest.py --rate (or bench/otlp_ingest.py --rate with --otlp) against a traced server
(bench/_trace_server.py), then each request's time split into steps, for all requests and for
the slowest 1 %, with the GC passes and event-loop stalls that overlap them.

    .venv/bin/python bench/ingest_trace.py --rate 500 --seconds 20 [--otlp] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from _server import fireline_server  # noqa: E402

from ingest import open_loop  # noqa: E402

# (name, from, to): a request's steps, in order; group steps are its group's.
STEPS = [("read+auth", "entry", "submit"), ("queued", "submit", "taken"), ("take+prepare", "taken", "g.prepared"),
         ("detectors", "g.prepared", "g.write"), ("write", "g.write", "g.written"),
         ("to its answer", "g.written", "settled"), ("resume+answer", "settled", "answered"),
         ("send", "answered", "sent")]  # "to its answer": the monitors (before a lone request's answer), settling


def _at(rec: dict[str, Any], groups: list[dict[str, Any]], key: str) -> float | None:
    if key.startswith("g."):
        g = groups[rec["group"]] if "group" in rec else None
        return None if g is None else g.get(key[2:])
    return rec.get(key)


def _overlap(spans: list[tuple[float, float]], t0: float, t1: float) -> float:
    return sum(max(0.0, min(t1, s + d) - max(t0, s)) for s, d in spans)


def report(trace: dict[str, Any], client: dict[str, float]) -> None:
    groups, reqs = trace["groups"], [r for r in trace["requests"] if "sent" in r and "group" in r]
    begin = min(r["entry"] for r in reqs)  # GC passes and stalls of the run, not of the start-up
    trace["gcs"] = [g for g in trace["gcs"] if g[0] >= begin]
    trace["stalls"] = [s for s in trace["stalls"] if s[0] >= begin]
    reqs.sort(key=lambda r: r["sent"] - r["entry"])
    total = [1000 * (r["sent"] - r["entry"]) for r in reqs]
    pick = lambda q: total[min(len(total) - 1, int(q * len(total)))]  # noqa: E731
    print(f"client: p50 {client['p50_ms']:.1f} ms, p99 {client['p99_ms']:.1f} ms, answered "
          f"{client['answered_per_s']:.0f}/s, server CPU {client['server_cpu_us_per_call']:.0f} us/call; "
          f"server (arrival to answer sent): p50 {pick(0.5):.1f} ms, "
          f"p99 {pick(0.99):.1f} ms, max {total[-1]:.1f} ms over {len(reqs)} requests")
    slow = reqs[int(0.99 * len(reqs)):]
    print(f"{'step':14s} {'all mean':>9s} {'slow1% mean':>12s} {'slow1% max':>11s}  (ms)")
    for name, a, b in STEPS:
        def step(r: dict[str, Any], a: str = a, b: str = b) -> float:
            x, y = _at(r, groups, a), _at(r, groups, b)
            return 0.0 if x is None or y is None else 1000 * (y - x)
        print(f"{name:14s} {statistics.fmean(map(step, reqs)):9.2f} {statistics.fmean(map(step, slow)):12.2f} "
              f"{max(map(step, slow)):11.2f}")
    gcs = [(s, d) for s, d, _, _ in trace["gcs"]]
    stalls = [(s - d, d) for s, d in trace["stalls"]]
    gc_in = statistics.fmean(_overlap(gcs, r["entry"], r["sent"]) * 1000 for r in slow)
    stall_in = statistics.fmean(_overlap(stalls, r["entry"], r["sent"]) * 1000 for r in slow)
    by_gen: dict[int, list[tuple[float, float]]] = {}
    for _, d, gen, cpu in trace["gcs"]:
        by_gen.setdefault(gen, []).append((d * 1000, cpu * 1000))
    print("gc passes (wall / CPU): " + ", ".join(
        f"gen{g} {len(v)} x (mean {statistics.fmean(w for w, _ in v):.1f} / {statistics.fmean(c for _, c in v):.1f}, "
        f"max {max(w for w, _ in v):.1f} / {max(c for _, c in v):.1f} ms)" for g, v in sorted(by_gen.items())))
    print(f"event-loop stalls > 5 ms: {len(stalls)}, total {sum(d for _, d in stalls) * 1000:.0f} ms, "
          f"max {max((d for _, d in stalls), default=0) * 1000:.0f} ms")
    print(f"slowest 1 %: GC overlapping {gc_in:.1f} ms, loop stalls overlapping {stall_in:.1f} ms per request")
    sizes = [g["requests"] for g in groups]
    cycle = [1000 * (g["stored"] - g["take"]) for g in groups if "stored" in g]
    print(f"groups: {len(groups)}, requests per group mean {statistics.fmean(sizes):.1f} max {max(sizes)}; "
          f"group cycle mean {statistics.fmean(cycle):.1f} ms, p99 {sorted(cycle)[int(0.99 * len(cycle))]:.1f} ms, "
          f"max {max(cycle):.1f} ms")
    done = [g for g in groups if "cpu1" in g]
    cpu = sum(g["cpu1"] - g["cpu0"] for g in done)
    print(f"  group thread: {1000 * cpu / sum(g['requests'] for g in done):.2f} ms CPU per request, "
          f"{100 * cpu / sum(g['stored'] - g['take'] for g in done):.0f} % of its groups' wall time on CPU, "
          f"{100 * sum(g['sched1'][1] - g['sched0'][1] for g in done) / sum(g['stored'] - g['take'] for g in done):.0f}"
          " % runnable waiting for a CPU (the rest: waiting for the GIL or I/O)")
    for name, a, b in [("prepare", "take", "prepared"), ("detectors", "prepared", "write"),
                       ("write", "write", "written"), ("monitors", "publish", "published")]:
        ds = sorted(1000 * (g[b] - g[a]) for g in groups if a in g and b in g)
        if ds:
            print(f"  group {name:10s} mean {statistics.fmean(ds):6.1f} p99 {ds[int(0.99 * len(ds))]:6.1f} "
                  f"max {ds[-1]:6.1f} ms")


def schedstat(pid: int) -> dict[str, tuple[float, float]]:
    """Each thread's (seconds on a CPU, seconds runnable but waiting for one) by 'name/tid'."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run, wait, _ = (task / "schedstat").read_text().split()
            name = (task / "comm").read_text().strip()
        except (OSError, ValueError):
            continue
        out[f"{name}/{task.name}"] = (int(run) / 1e9, int(wait) / 1e9)
    return out


def print_sched(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], wall: float,
                pid: int) -> None:
    """The event loop's thread: CPU and run-queue wait (the machine's other load) over the run."""
    main = next(k for k in after if k.endswith(f"/{pid}"))
    (r1, w1), (r0, w0) = after[main], before[main]
    print(f"event-loop thread over the {wall:.0f} s run: {r1 - r0:.1f} s on a CPU, {w1 - w0:.1f} s runnable waiting "
          "for one (the rest: idle or waiting for the GIL)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--otlp", action="store_true", help="one span per OTLP export instead of native calls")
    ap.add_argument("--pg", default="", help="admin URL of PostgreSQL for a scratch database (default: SQLite)")
    ap.add_argument("--gc", default="", help="the server's GC thresholds after start-up, e.g. 700,10,10 (experiment)")
    ap.add_argument("--py-spy", default="", help="path of py-spy: also profile the server during the run")
    ap.add_argument("--idle", action="store_true", help="py-spy --idle: waiting stacks too (for the GIL, I/O)")
    ap.add_argument("--switch", default="", help="the server's GIL switch interval in seconds (an experiment)")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="fireline-trace-")) / "trace.json"
    launcher = [sys.executable, str(Path(__file__).with_name("_trace_server.py"))]
    env = {"FIRELINE_TRACE_OUT": str(out), "FIRELINE_TRACE_SWITCH": args.switch,
           "FIRELINE_TRACE_GC": args.gc}
    kwargs: dict[str, Any] = {}
    if args.otlp:
        from otlp_ingest import one_span_bodies

        kwargs = {"bodies": one_span_bodies(args.rate, args.seconds), "path": "/v1/traces",
                  "content_type": "application/x-protobuf", "ok": 200}
    name = f"fireline_trace_{uuid.uuid4().hex[:8]}"
    url = None
    if args.pg:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + "/" + name
    try:
        with fireline_server(url, env=env, command=launcher) as (base, pid):
            spy = None
            if args.py_spy:  # a profile of the run beside the trace (py-spy's raw format: one stack a line)
                spy = subprocess.Popen([args.py_spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds)),
                                        "--rate", "200", "--format", "raw", "--nonblocking", "--threads",
                                        *(["--idle"] if args.idle else []),
                                        "-o", str(out.with_name("profile.txt"))], stdout=subprocess.DEVNULL)
            before, t0 = schedstat(pid), time.monotonic()
            client = asyncio.run(open_loop(base, pid, args.rate, args.seconds, **kwargs))
            sched = (before, schedstat(pid), time.monotonic() - t0, pid)
            if spy is not None:
                spy.wait()
                print(f"py-spy profile: {out.with_name('profile.txt')}")
    finally:
        if args.pg:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report(orjson.loads(out.read_bytes()), client)
    print_sched(*sched)
    print("load: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
