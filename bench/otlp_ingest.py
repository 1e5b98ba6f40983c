"""OTLP/HTTP ingest end to end: Fireline vs Arize Phoenix on the same load and machine.

Starts `fireline serve` on a fresh SQLite database, then runs ../shared/peers/otlp_ingest.py
against it (the same script that measured Phoenix): N synthetic LLM spans (OpenInference +
GenAI attributes, ~1 KB prompt, 4 spans/trace, ~1 % errors) as protobuf
ExportTraceServiceRequests of 500 spans, one keep-alive sender, then polls
GET /api/v1/calls/count?app=<project> until every span is a stored, queryable call.
Prints Fireline beside Phoenix and a RESULT line. With `--phoenix N`, Phoenix is measured in the
same run, after Fireline, by the same script on N spans (bench/_phoenix.py: `phoenix serve` on a
fresh SQLite directory, installed into /tmp/venv-phoenix when missing; it stores ~40 spans/s here,
so N = 2,000 takes about a minute); without it, Phoenix's recorded figures (shared/peers/README.md),
labelled as recorded. Target: >= 10,000 spans/s end to end on SQLite, < 300 MB peak RSS.

`--rate R --seconds S`: one span per export instead (how the SDKs' exporters send under light
traffic), open loop at R exports/s on SQLite and PostgreSQL, latency percentiles of the answers
(bench/ingest.py `--rate`, same load generator); target 500/s at p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _phoenix  # noqa: E402
from _server import ADMIN, cpu_seconds, fireline_server, hot_path  # noqa: E402

from ingest import on_both_engines, open_loop, print_open_loop  # noqa: E402

PEER = _phoenix.PEER


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--rate", type=float, default=0.0, help="one span per export at this many exports/s (open loop)")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long the --rate run sends")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="--rate: admin URL to create a scratch database ('' to skip)")
    ap.add_argument("--phoenix", type=int, default=0, metavar="N",
                    help="measure Phoenix in the same run on N spans (0: print its recorded figures)")
    args = ap.parse_args()
    if not PEER.exists():
        raise SystemExit(f"missing {PEER} (the shared peers directory beside the project)")
    if args.rate:
        one_span_per_export(args)
        return
    with fireline_server() as (url, pid):
        key = httpx.post(f"{url}/api/v1/keys", json={"role": "ingest", "name": "otlp-bench"},
                         headers={"Authorization": f"Bearer {ADMIN}"}).json()["key"]
        # the peer's url: counter cannot send a header, so count with curl (viewer-level admin token)
        count = (f"cmd:curl -sf -H 'Authorization: Bearer {ADMIN}' '{url}/api/v1/calls/count?app={{project}}'"
                 " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"count\"])'")
        cmd = [sys.executable, str(PEER), "--url", f"{url}/v1/traces", "--n", str(args.n), "--batch", str(args.batch),
               "--count", count, "--header", f"Authorization: Bearer {key}", "--target-pid", str(pid),
               "--poll-s", "0.1", "--timeout", str(args.timeout)]
        print("$", " ".join(shlex.quote(c) for c in cmd).replace(key, "<ingest key>").replace(ADMIN, "<admin>"),
              flush=True)
        cpu0 = cpu_seconds(pid)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 300)
        cpu = cpu_seconds(pid) - cpu0
    print(proc.stdout.strip())
    if proc.returncode != 0:
        print(proc.stderr.strip()[-3000:])
        raise SystemExit(f"peer script failed with exit code {proc.returncode}")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), "")
    got = dict(re.findall(r"(\w+)=(\S+)", line))
    ours = {"accept_spans_per_s": float(got["accept_spans_per_s"]), "e2e_spans_per_s": float(got["e2e_spans_per_s"]),
            "target_peak_rss_mb": float(got["target_peak_rss_mb"]), "cpu_ms_per_span": cpu * 1000 / args.n}
    phoenix, source, same_run = _phoenix.figures(args.phoenix, args.batch)
    print(f"\nFireline's hot path: {hot_path()}; Phoenix: {source}")
    print(f"\n{'':28}{'Fireline':>12}{'Phoenix':>12}{'ratio':>10}")
    for name, better in (("accept_spans_per_s", "higher"), ("e2e_spans_per_s", "higher"),
                         ("target_peak_rss_mb", "lower"), ("cpu_ms_per_span", "lower")):
        ratio = ours[name] / phoenix[name] if better == "higher" else phoenix[name] / max(ours[name], 1e-9)
        print(f"{name:28}{ours[name]:>12,.1f}{phoenix[name]:>12,.1f}{ratio:>9.1f}x")
    ok = got.get("complete") == "1" and ours["e2e_spans_per_s"] >= 10_000 and ours["target_peak_rss_mb"] < 300
    print(f"RESULT n={args.n} complete={got.get('complete')} e2e_spans_per_s={ours['e2e_spans_per_s']:.0f} "
          f"accept_spans_per_s={ours['accept_spans_per_s']:.0f} peak_rss_mb={ours['target_peak_rss_mb']:.0f} "
          f"cpu_ms_per_span={ours['cpu_ms_per_span']:.3f} "
          f"vs_phoenix_e2e={ours['e2e_spans_per_s'] / phoenix['e2e_spans_per_s']:.0f}x "
          f"vs_phoenix_rss={phoenix['target_peak_rss_mb'] / max(ours['target_peak_rss_mb'], 1):.1f}x "
          f"phoenix_same_run={int(same_run)} target_met={int(ok)}")


def one_span_bodies(rate: float, seconds: float) -> list[bytes]:
    """The peer's spans (same generator), one per protobuf export."""
    spec = importlib.util.spec_from_file_location("otlp_peer", PEER)
    assert spec is not None and spec.loader is not None
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    made, _ = peer.build_requests(int(rate * seconds), 1, 4, "otlp-rate-bench", 7, 1024)
    return [body for _, body in made]


def one_span_per_export(args: argparse.Namespace) -> None:
    """--rate: one span per protobuf export, open loop on both engines."""
    def run(url: str, pid: int) -> dict[str, float]:
        return asyncio.run(open_loop(url, pid, args.rate, args.seconds, one_span_bodies(args.rate, args.seconds),
                                     path="/v1/traces", content_type="application/x-protobuf", ok=200))

    print_open_loop(on_both_engines(args.pg, 1, run), args.rate, "one span per export")


if __name__ == "__main__":
    main()
