#!/usr/bin/env python3
"""Gateway overhead: Fireline's gateway vs direct-to-upstream, side by side with LiteLLM, same run.

Uses ../shared/peers/gateway_overhead.py's conventions and pieces (its mock upstream, request body,
wrk Lua script and pinning: load generator + mock on the last core, the gateway's process tree on
the others). For each gateway (Fireline, then LiteLLM proxy 1.10x from /tmp/venv-litellm, installed
by peers/targets/litellm_start.sh when missing):

  1. closed loop (wrk) at each --conc, directly against the mock and through the gateway;
  2. open loop at --rate req/s (bench/_rate.py: latency from when each request was due), directly
     and through the gateway;

Fireline runs with logging and detectors on: every call goes through the spool into SQLite (the
default store) with the privacy pass and the registered detectors. Throughput with logging counts
the logging too: after the c=16 run the bench waits until every answered call is stored, and
reports answered / (run + drain) as well. Prints both gateways' figures with the load average.

  .venv/bin/python bench/gateway_overhead.py [--conc 1,16] [--rate 500] [--duration 10] [--runs 3]
      [--no-litellm] [--pin on|off] [--config FILE] [--policies] [--user-text FILE] [--distinct]

--policies declares five output rules and five tool-argument rules for every app (`app: "*"`,
action block: every answer is buffered and checked before the caller sees it).

--user-text FILE sends FILE's text as the user message instead of peers' incident prompt (same model,
system prompt and options): the privacy pass's cost depends on the text (peers' prompt, dense with
numbers, costs about five times what bench/ingest.py's call text does; bench/gateway_store_cost.py).

--distinct numbers every request's user message ("(request 00000042)"), wrk's and the open loop's
alike, so no two calls carry the same text: the privacy pass remembers texts it saw lately
(fireline.memo), which the peers' one repeated prompt would otherwise hit on every call.

Targets (issue 19), printed with a verdict after the table: p99 added <= 2 ms at one connection
and at 500 req/s; >= 2,500 stored req/s per core with logging and detectors on (stored calls per
second of CPU of the gateway's whole tree at c=16, helper included); >= 20x LiteLLM's req/s at 16
connections in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _rate  # noqa: E402
from _server import PEERS, hot_path  # noqa: E402

TOKEN = "fl-bench-admin-token-0123456789"
POLICIES_YAML = """
policies:
""" + "".join(f"""  - {{name: out-{i}, app: "*", target: output, deny_terms: [Rival{i}, Competitor{i}],
     deny_patterns: ['(?i)legally\\s+binding\\s+{i}'], type: policy_bypass, severity: P1, action: block}}
  - {{name: tool-{i}, app: "*", target: tool_arguments, deny_patterns: ['(?i)\\bdrop\\s+table{i}\\b'],
     type: agentic_harm, severity: P0, action: block}}
""" for i in range(5))
MAX_ADDED_P99_MS = 2.0
MIN_STORED_PER_CORE = 2500.0
MIN_VS_LITELLM = 20.0
LITELLM_KEY = "sk-78ec6335e11f648fa7bad4df6e94d1c11fb0b1c5d71494a0abf8a1b65fb173cc"  # peers/targets/litellm_start.sh


def load() -> str:
    return "/".join(Path("/proc/loadavg").read_text().split()[:3])


def peers() -> Any:
    spec = importlib.util.spec_from_file_location("peers_gateway_overhead", PEERS / "gateway_overhead.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return int(conn.execute("select count(*) from calls").fetchone()[0])
    except sqlite3.Error:
        return 0


# wrk: each request's body with its own number where the marker is (bench/_rate.py does the same).
DISTINCT_LUA = r"""
local before, after = string.match(wrk.body, "^(.*)@SEQ@(.*)$")
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, before .. string.format("%08d", n) .. after)
end
"""


def measure(go: Any, name: str, cmd: str, env: dict[str, str], model: str, key: str, args: argparse.Namespace,
            pin: tuple[set[int], set[int]] | None, db: Path | None) -> dict[str, Any]:
    """One gateway: start it in front of a fresh mock, closed loop at each concurrency, open loop at the rate."""
    out: dict[str, Any] = {"name": name}
    work = Path(tempfile.mkdtemp(prefix="fl-gwbench-"))
    body = go.body_json(model)
    if args.user_text:
        request = json.loads(body)
        request["messages"][-1]["content"] = Path(args.user_text).read_text()
        body = json.dumps(request).encode()
    if args.distinct:
        request = json.loads(body)
        request["messages"][-1]["content"] += " (request @SEQ@)"
        body = json.dumps(request).encode()
    (work / "body.json").write_bytes(body)
    lua = work / "post.lua"
    lua.write_text(go.LUA % {"body": work / "body.json", "auth": f'wrk.headers["Authorization"] = "Bearer {key}"'}
                   + (DISTINCT_LUA if args.distinct else ""))
    load_cpus, target_cpus = pin if pin else (None, None)
    mock = subprocess.Popen([sys.executable, str(PEERS / "mock_upstream.py"), "--port", str(args.mock_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=(lambda: os.sched_setaffinity(0, load_cpus)) if load_cpus else None)
    log = (work / "target.log").open("wb")
    target = subprocess.Popen(cmd.format(mock_port=args.mock_port, port=args.port), shell=True, cwd=work,
                              env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base, mock_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.mock_port}"
    try:
        if not go.wait_http(mock_base + "/v1/models", 15, mock) or not go.wait_http(base + "/v1/models", 180, target,
                                                                                     key):
            raise SystemExit(f"{name} did not start; see {work / 'target.log'}")
        go.one_request(base, model, key)

        def closed(url: str, conc: int, seconds: float) -> dict[str, Any]:
            if pin:
                go.pin_tree(target.pid, target_cpus)
            result: dict[str, Any] = go.run_wrk(url + "/v1/chat/completions", conc, seconds, 1, str(lua), load_cpus)
            return result

        for conc in args.concs:
            closed(base, conc, 3)  # warm-up
            for side, url in (("direct", mock_base), ("target", base)):
                runs = []
                for _ in range(args.runs):
                    cpu0, _ = go.tree_cpu_rss(target.pid)
                    before = stored(db) if db is not None and side == "target" else 0
                    r = closed(url, conc, args.duration)
                    cpu1, rss = go.tree_cpu_rss(target.pid)
                    r["load"] = load()
                    if side == "target":
                        r["cpu_ms"] = (cpu1 - cpu0) * 1000 / max(1, r["requests"])
                        r["rss_mb"] = rss / 2**20
                        if db is not None:  # the logging is part of the throughput: wait until it is stored
                            t0 = time.monotonic()
                            while stored(db) < before + r["requests"] and time.monotonic() - t0 < 300:
                                time.sleep(0.2)
                            drain = time.monotonic() - t0
                            cpu2, _ = go.tree_cpu_rss(target.pid)
                            r["drain_s"] = drain
                            r["logged_rps"] = r["requests"] / (args.duration + drain)
                            r["cpu_ms_logged"] = (cpu2 - cpu0) * 1000 / max(1, r["requests"])
                    runs.append(r)
                    print(f"  {name:8s} {side:6s} c={conc:<3d} rps={r['rps']:.0f} p50={r['p50_ms']:.2f} "
                          f"p99={r['p99_ms']:.2f} ms errors={r['errors']}"
                          + (f" cpu={r['cpu_ms']:.3f} ms/req" if "cpu_ms" in r else "")
                          + (f" drain={r['drain_s']:.1f}s logged_rps={r['logged_rps']:.0f} "
                             f"cpu_all={r['cpu_ms_logged']:.3f} ms/req" if "drain_s" in r else "")
                          + f" load={r['load']}", flush=True)
                out[f"{side}{conc}"] = {k: (statistics.median(r[k] for r in runs) if k != "load" else runs[-1][k])
                                        for k in runs[0]}
        if args.rate > 0:
            if load_cpus:
                os.sched_setaffinity(0, load_cpus)
            for side, url in (("direct", mock_base), ("target", base)):
                runs = []
                for _ in range(args.runs):
                    if pin:
                        go.pin_tree(target.pid, target_cpus)
                    r = _rate.run(url + "/v1/chat/completions", args.rate, args.duration, body, key)
                    r.pop("by_status")  # the medians below are over numbers
                    r["load"] = load()
                    runs.append(r)
                    print(f"  {name:8s} {side:6s} {args.rate:.0f}/s answered={r['answered_per_s']:.0f}/s "
                          f"p50={r['p50_ms']:.2f} p99={r['p99_ms']:.2f} max={r['max_ms']:.1f} ms "
                          f"failed={r['failed']} unanswered={r['unanswered']} load={r['load']}", flush=True)
                out[f"{side}R"] = {k: (statistics.median(r[k] for r in runs) if k != "load" else runs[-1][k])
                                   for k in runs[0]}
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    finally:
        stop(target)
        stop(mock)
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conc", default="1,16")
    ap.add_argument("--rate", type=float, default=500, help="open-loop req/s (0: skip)")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--mock-port", type=int, default=9979)
    ap.add_argument("--pin", choices=["on", "off"], default="on")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--config", default="", help="FIRELINE_CONFIG for the Fireline server")
    ap.add_argument("--policies", action="store_true",
                    help="declare 10 blocking policies for every app (every answer buffered and checked)")
    ap.add_argument("--user-text", default="", help="a file whose text is sent as the user message")
    ap.add_argument("--distinct", action="store_true", help="number every request's user message: no two texts alike")
    args = ap.parse_args()
    args.concs = [int(c) for c in args.conc.split(",") if c]
    if not shutil.which("wrk"):
        print("wrk not found (apt-get install -y wrk)", file=sys.stderr)
        return 2
    go = peers()
    ncpu = os.cpu_count() or 1
    pin = ({ncpu - 1}, set(range(ncpu - 1))) if args.pin == "on" and ncpu >= 2 else None
    where = f"load generator + mock on CPU {ncpu - 1}, the gateway on the others" if pin else "off"
    print(f"pin: {where}; load {load()}; Fireline's hot path: {hot_path()}", flush=True)
    data = Path(tempfile.mkdtemp(prefix="fl-gwbench-db-"))
    db = data / "fireline.db"
    fireline = Path(sys.executable).with_name("fireline")
    env = {"FIRELINE_DATABASE_URL": f"sqlite:///{db}", "FIRELINE_ADMIN_TOKEN": TOKEN, "FIRELINE_SECRET": "bench-secret",
           "FIRELINE_UPSTREAM_KEY": "sk-upstream"}
    if args.policies:
        (data / "fireline.yaml").write_text(POLICIES_YAML)
        args.config = str(data / "fireline.yaml")
    if args.config:
        env["FIRELINE_CONFIG"] = str(Path(args.config).resolve())
    cmd = (f"FIRELINE_UPSTREAM_URL=http://127.0.0.1:{{mock_port}}/v1 exec {fireline} serve --port {{port}} "
           "--log-level warning")
    results = [measure(go, "fireline", cmd, env, "gpt-4o-mini", TOKEN, args, pin, db)]
    if not args.no_litellm:
        cmd = f"exec bash {PEERS / 'targets' / 'litellm_start.sh'} {{mock_port}} {{port}} 1"
        results.append(measure(go, "litellm", cmd, {}, "mock-gpt", LITELLM_KEY, args, pin, None))
    shutil.rmtree(data, ignore_errors=True)

    print(f"\n{'':30s}" + "".join(f"{r['name']:>24s}" for r in results))
    rows: list[tuple[str, str, str]] = []
    for conc in args.concs:
        cell = f"target{conc}"
        rows += [(f"c={conc} added p50 ms", cell, "p50_ms"), (f"c={conc} added p99 ms", cell, "p99_ms"),
                 (f"c={conc} req/s", cell, "rps"), (f"c={conc} CPU ms/req (serving)", cell, "cpu_ms")]
    rows += [("c=16 req/s incl. storing", "target16", "logged_rps"),
             ("c=16 CPU ms/req incl. storing", "target16", "cpu_ms_logged")]
    if args.rate > 0:
        rate = f"{args.rate:.0f}/s"
        rows += [(f"{rate} added p50 ms", "targetR", "p50_ms"), (f"{rate} added p99 ms", "targetR", "p99_ms"),
                 (f"{rate} answered/s", "targetR", "answered_per_s")]
    parts = []
    for label, cell, key in rows:
        values = []
        for r in results:
            t = r.get(cell, {})
            v = t.get(key)
            if v is not None and key in ("p50_ms", "p99_ms"):
                d = r.get(cell.replace("target", "direct"), {})
                v = v - d.get(key, 0.0)
            values.append(v)
            if v is not None:
                parts.append(f"{r['name']}_{cell}_{key}={v:.3f}")
        print(f"{label:30s}" + "".join(f"{v:24.2f}" if v is not None else f"{'-':>24s}" for v in values))
    verdicts = targets(results, args)
    print("\ntargets (issue 19), Fireline in this run:")
    for _, label, shown, met in verdicts:
        print(f"  {label:40s}{shown:>14s}  {'-' if met is None else 'met' if met else 'not met'}")
    parts += [f"target_{key}={int(met)}" for key, _, _, met in verdicts if met is not None]

    def last_run(r: dict[str, Any]) -> dict[str, Any]:
        return r.get("targetR") or (r.get(f"target{args.concs[-1]}") if args.concs else None) or {}

    print("load (1/5/15 min, last run): " + ", ".join(
        f"{r['name']} {last_run(r).get('load', '?')}" for r in results))
    print("RESULT " + " ".join(parts), flush=True)
    return 0


def targets(results: list[dict[str, Any]], args: argparse.Namespace) -> list[tuple[str, str, str, bool | None]]:
    """(key, target, Fireline's figure, met) for each target of issue 19; met is None when this run
    did not measure it (a concurrency or the open loop left out, LiteLLM not run)."""
    ours = results[0]

    def added_p99(cell: str) -> float | None:
        t, d = ours.get("target" + cell), ours.get("direct" + cell)
        return t["p99_ms"] - d["p99_ms"] if t and d else None

    out: list[tuple[str, str, str, bool | None]] = []
    for key, label, cell in (("c1_p99", "c=1 added p99 <= 2 ms", "1"),
                             ("rate_p99", f"{args.rate or 500:.0f} req/s added p99 <= 2 ms", "R")):
        v = added_p99(cell)
        out.append((key, label, "not run" if v is None else f"{v:.2f} ms",
                    None if v is None else v <= MAX_ADDED_P99_MS))
    c16 = ours.get("target16", {})
    per_core = 1000 / c16["cpu_ms_logged"] if c16.get("cpu_ms_logged") else None
    out.append(("stored_per_core", "stored req/s per core >= 2,500",
                "not run" if per_core is None else f"{per_core:,.0f}",
                None if per_core is None else per_core >= MIN_STORED_PER_CORE))
    peer = next((r for r in results[1:] if r["name"] == "litellm"), {}).get("target16", {})
    ratio = c16["rps"] / peer["rps"] if c16.get("rps") and peer.get("rps") else None
    out.append(("vs_litellm", "c=16 req/s >= 20x LiteLLM's", "not run" if ratio is None else f"{ratio:.1f}x",
                None if ratio is None else ratio >= MIN_VS_LITELLM))
    return out


if __name__ == "__main__":
    sys.exit(main())
