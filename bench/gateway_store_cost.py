#!/usr/bin/env python3
"""Where the CPU of one stored gateway call goes, stage by stage, in one process (no server, no wrk).

The gateway bench (bench/gateway_overhead.py) measures CPU per stored call across all its processes;
this splits it: the spool line (encode, decode), the call record (build_call), the privacy pass and
sealing (service.prepare_batch), the stateless detectors (detect.screen), and the hand-off back from
the helper process (pickle both ways). Beside it, the same privacy pass and detectors on the native
ingest bench's call (bench/ingest.py make_call), so the two benches' texts can be told apart from
the gateway's own plumbing.

  .venv/bin/python bench/gateway_store_cost.py [--calls 400] [--rounds 3] [--distinct]

Prints the median CPU ms per call of each stage with the load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("FIRELINE_SECRET", "bench-secret")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import orjson  # noqa: E402

import ingest  # noqa: E402
from fireline.calls import service  # noqa: E402
from fireline.calls.pricing import price_table  # noqa: E402
from fireline.calls.schemas import CallIn  # noqa: E402
from fireline.config import get_config  # noqa: E402
from fireline.db import utcnow  # noqa: E402
from fireline.detect.screen import StatelessPass  # noqa: E402
from fireline.gateway.writer import build_call, decode, encode  # noqa: E402
from fireline.pii import gazetteer  # noqa: E402

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "gateway_overhead.py"
ANSWER = orjson.dumps({
    "id": "chatcmpl-mock1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "system_fingerprint": "fp_mock", "usage": {"prompt_tokens": 300, "completion_tokens": 14, "total_tokens": 314},
    "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Likely causes: the cipher change in v2.14.3, pool saturation, timeouts."}}]})


def gateway_body() -> dict[str, Any]:
    """The gateway bench's request body (peers' body_json), or a stand-in when peers is absent."""
    if PEERS.exists():
        spec = importlib.util.spec_from_file_location("peers_gateway_overhead", PEERS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        body: dict[str, Any] = json.loads(module.body_json("gpt-4o-mini"))
        return body
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ingest.FILLER * 7}], "max_tokens": 64}


def pending(i: int, body: dict[str, Any], distinct: bool = False) -> dict[str, Any]:
    """What gateway.call hands the writer for a plain non-streamed call; distinct numbers the user
    message as `bench/gateway_overhead.py --distinct` does, so the privacy pass's memo never hits."""
    if distinct:
        messages = [dict(m) for m in body["messages"]]
        messages[-1]["content"] += f" (request {i:08d})"
        body = {**body, "messages": messages}
    return {"id": f"gw{i:010d}", "started": time.time(), "app": "default", "user": None, "tenant": None,
            "session": None, "prompt_version": None, "cohort": None, "route": None, "environment": None,
            "model_requested": body.get("model"), "body": body, "stream": False, "retrieval": None,
            "status": "ok", "api_key_id": "key-1", "raw": ANSWER, "latency_ms": 1.5}


def timed(out: dict[str, list[float]], label: str, n: int, fn: Callable[[], Any]) -> Any:
    t0 = time.process_time()
    result = fn()
    out.setdefault(label, []).append((time.process_time() - t0) * 1000 / n)
    return result


def one_round(out: dict[str, list[float]], n: int, body: dict[str, Any], screen: StatelessPass, config: Any,
              prices: dict[str, tuple[float, float]], seed: int, distinct: bool) -> None:
    now = utcnow()
    first = seed * n
    lines = timed(out, "gateway: encode (spool line)", n,
                  lambda: [encode(pending(first + i, body, distinct)) for i in range(n)])
    records = timed(out, "gateway: decode", n, lambda: [decode(line) for line in lines])
    calls = timed(out, "gateway: build_call", n, lambda: [build_call(p, config, prices) for p in records])
    batch = timed(out, "gateway: privacy pass + seal", n, lambda: service.prepare_batch(calls, now))
    timed(out, "gateway: stateless detectors", n, lambda: screen.run(batch.calls))
    for p in batch.calls:
        p.redacted = {}
    shipped = timed(out, "gateway: pickle.dumps (helper)", n,
                    lambda: [pickle.dumps(p, pickle.HIGHEST_PROTOCOL) for p in batch.calls])
    timed(out, "gateway: pickle.loads (serving)", n, lambda: [pickle.loads(s) for s in shipped])
    rng = random.Random(seed)
    native = [CallIn.model_validate(ingest.make_call(i, rng)) for i in range(n)]
    nbatch = timed(out, "native: privacy pass + seal", n, lambda: service.prepare_batch(native, now))
    timed(out, "native: stateless detectors", n, lambda: screen.run(nbatch.calls))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--distinct", action="store_true",
                    help="number every call's user message (no two texts alike), as the gateway bench's --distinct")
    args = ap.parse_args()
    config, n = get_config(), args.calls
    prices = price_table(config)
    gazetteer.get()
    screen = StatelessPass.build(config, lambda: {})
    body = gateway_body()
    out: dict[str, list[float]] = {}
    for r in range(args.rounds):
        one_round(out, n, body, screen, config, prices, r, args.distinct)
    load = "/".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"CPU ms per call, median of {args.rounds} rounds of {n} calls; load {load}")
    for label, values in out.items():
        print(f"  {label:36s} {statistics.median(values):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
