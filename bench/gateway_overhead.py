#!/usr/bin/env python3
"""Gateway overhead: Fireline's gateway vs direct-to-upstream, side by side with LiteLLM.

Runs ../shared/peers/gateway_overhead.py (wrk against the peers' mock upstream, directly and
through `fireline serve`, pinned: load + mock on one core, Fireline on the other) with logging
and detectors on: every call goes through the background writer into SQLite (the default
store) with the privacy pass and the registered detectors. Prints both sides' raw figures,
the ratios to LiteLLM 1.106 (peers README, same machine kind) and a RESULT line.

  .venv/bin/python bench/gateway_overhead.py [--conc 1,16] [--duration 10] [--runs 3] [--policies]

--policies declares five output rules and five tool-argument rules for every app (`app: "*"`,
action block: every answer is buffered and checked before the caller sees it), to measure what
declared policies add to the gateway.

Targets (issue 5): <= 1 ms added at p50 with one connection; >= 1,000 req/s on one core.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
# LiteLLM proxy 1.106.2, one worker on one core, this machine (peers/README.md, median of 3 runs).
LITELLM = {1: {"p50_overhead_ms": 21.1, "p99_overhead_ms": 31.3, "rps": 47, "cpu_ms": 20.5},
           16: {"p50_overhead_ms": 305.4, "p99_overhead_ms": 460.3, "rps": 51, "cpu_ms": 19.5},
           64: {"p50_overhead_ms": 1033.8, "p99_overhead_ms": 3338.1, "rps": 52, "cpu_ms": 19.1}}
TOKEN = "fl-bench-admin-token-0123456789"
POLICIES_YAML = """
policies:
""" + "".join(f"""  - {{name: out-{i}, app: "*", target: output, deny_terms: [Rival{i}, Competitor{i}],
     deny_patterns: ['(?i)legally\\s+binding\\s+{i}'], type: policy_bypass, severity: P1, action: block}}
  - {{name: tool-{i}, app: "*", target: tool_arguments, deny_patterns: ['(?i)\\bdrop\\s+table{i}\\b'],
     type: agentic_harm, severity: P0, action: block}}
""" for i in range(5))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conc", default="1,16")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--mock-port", type=int, default=9979)
    ap.add_argument("--loadgen", default="auto", choices=["auto", "wrk", "python"])
    ap.add_argument("--policies", action="store_true", help="declare 10 blocking policies for every app")
    args = ap.parse_args()
    script = PEERS / "gateway_overhead.py"
    if not script.exists():
        print(f"missing {script}", file=sys.stderr)
        return 2
    if args.loadgen == "auto" and not shutil.which("wrk"):
        print("wrk not found (apt-get install -y wrk); using the python load generator", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="fl-gwbench-"))
    db_path = work / "fireline.db"
    fireline = Path(sys.executable).with_name("fireline")
    env = (f"FIRELINE_DATABASE_URL=sqlite:///{db_path} FIRELINE_UPSTREAM_URL={{mock_url}} "
           f"FIRELINE_ADMIN_TOKEN={TOKEN} FIRELINE_SECRET=bench-secret FIRELINE_UPSTREAM_KEY=sk-upstream")
    if args.policies:
        (work / "fireline.yaml").write_text(POLICIES_YAML)
        env += f" FIRELINE_CONFIG={work / 'fireline.yaml'}"
    target_cmd = f"cd {work} && exec env {env} {fireline} serve --port {{port}} --log-level warning"
    cmd = [sys.executable, str(script), "--target-url", f"http://127.0.0.1:{args.port}",
           "--target-cmd", target_cmd, "--api-key", TOKEN, "--model", "gpt-4o-mini",
           "--mock-port", str(args.mock_port), "--conc", args.conc, "--duration", str(args.duration),
           "--runs", str(args.runs), "--loadgen", args.loadgen]
    print("running:", " ".join(cmd[:2]), "...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(PEERS))
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), "")
    fig = dict(kv.split("=", 1) for kv in line[7:].split())
    logged = 0
    if db_path.exists():
        with sqlite3.connect(db_path) as conn:
            logged = conn.execute("select count(*) from calls").fetchone()[0]
    print("\n                      Fireline gateway            LiteLLM 1.106 (peers README)    ratio")
    parts = [f"logged_calls={logged}"]
    for c in [int(x) for x in args.conc.split(",") if x]:
        ours = {k: float(fig[f"c{c}_{k}"]) for k in ("overhead_p50_ms", "overhead_p99_ms", "target_rps",
                                                      "target_cpu_ms_per_req") if f"c{c}_{k}" in fig}
        peer = LITELLM.get(c)
        if not ours or peer is None:
            continue
        rows = [("added p50 ms", ours["overhead_p50_ms"], peer["p50_overhead_ms"]),
                ("added p99 ms", ours["overhead_p99_ms"], peer["p99_overhead_ms"]),
                ("req/s", ours["target_rps"], peer["rps"]),
                ("CPU ms / request", ours["target_cpu_ms_per_req"], peer["cpu_ms"])]
        for name, a, b in rows:
            better = b / a if name != "req/s" and a > 0 else (a / b if name == "req/s" else float("inf"))
            print(f"c={c:<3d} {name:16s} {a:12.3f}            {b:12.1f}                 {better:8.1f}x better")
        parts += [f"c{c}_added_p50_ms={ours['overhead_p50_ms']:.2f}", f"c{c}_rps={ours['target_rps']:.0f}",
                  f"c{c}_cpu_ms_per_req={ours['target_cpu_ms_per_req']:.3f}",
                  f"c{c}_litellm_added_p50_ms={peer['p50_overhead_ms']}", f"c{c}_litellm_rps={peer['rps']}",
                  f"c{c}_rps_vs_litellm={ours['target_rps'] / peer['rps']:.1f}"]
    passes = [float(fig.get("c1_overhead_p50_ms", "inf")) <= 1.0,
              max((float(v) for k, v in fig.items() if re.fullmatch(r"c\d+_target_rps", k)), default=0) >= 1000]
    parts += [f"target_p50_le_1ms={int(passes[0])}", f"target_rps_ge_1000={int(passes[1])}"]
    print("RESULT " + " ".join(parts), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
