"""Arize Phoenix measured in the same run as Fireline: ../shared/peers/otlp_ingest.py against
`phoenix serve` on a fresh SQLite directory (../shared/peers/targets/phoenix_start.sh, which
installs arize-phoenix into /tmp/venv-phoenix from the package registry when it is missing),
counted through Phoenix's GraphQL API. The same spans, sender and counter as Fireline's run.

Without a same-run measurement (none asked, or it failed) the benches print Phoenix's recorded
figures (RECORDED), and say so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _server import PEERS

PEER = PEERS / "otlp_ingest.py"
START = PEERS / "targets" / "phoenix_start.sh"

# Phoenix 20.26.1 on SQLite, this machine, 20k spans (shared/peers/README.md, section 3)
RECORDED = {"accept_spans_per_s": 1932.0, "e2e_spans_per_s": 42.0, "target_peak_rss_mb": 861.0,
            "cpu_ms_per_span": 23.5}


def measure(n: int, batch: int = 500, port: int = 6016, timeout: float = 900) -> dict[str, float]:
    """Phoenix's figures for `n` spans (the keys of RECORDED, plus "complete"). RuntimeError with
    the peer script's last lines when Phoenix cannot be installed, started or measured."""
    work = Path(tempfile.mkdtemp(prefix="phoenix-bench-"))
    cmd = [sys.executable, str(PEER), "--url", f"http://127.0.0.1:{port}/v1/traces", "--n", str(n),
           "--batch", str(batch), "--count", "phoenix-graphql", "--poll-s", "0.5", "--timeout", str(timeout),
           "--target-cmd", f"bash {START} {port} {work / 'phoenix'}"]
    print(f"Phoenix, same run: {n} spans (installing it first if /tmp/venv-phoenix is missing) ...", flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 900)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), "")
    if proc.returncode != 0 or not line:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError("the Phoenix run failed:\n" + "\n".join(tail))
    got = dict(re.findall(r"(\w+)=(\S+)", line))
    return {"accept_spans_per_s": float(got["accept_spans_per_s"]), "e2e_spans_per_s": float(got["e2e_spans_per_s"]),
            "target_peak_rss_mb": float(got["target_peak_rss_mb"]),
            "cpu_ms_per_span": float(got["target_cpu_s"]) * 1000 / max(float(got["stored"]), 1.0),
            "complete": float(got["complete"])}


def figures(n: int, batch: int = 500) -> tuple[dict[str, float], str, bool]:
    """(Phoenix's figures, where they come from, measured in this run): `measure(n)` when n > 0,
    else, or when that fails (said on stderr), the recorded ones."""
    recorded = "recorded (shared/peers/README.md, 20,000 spans)"
    if n <= 0:
        return RECORDED, recorded, False
    try:
        got = measure(n, batch)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"Phoenix could not be measured in this run: {exc}", file=sys.stderr)
        return RECORDED, recorded + "; the same-run measurement failed", False
    return got, f"this run, {n:,} spans" + ("" if got["complete"] else ", INCOMPLETE: not every span was stored"), True
