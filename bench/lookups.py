#!/usr/bin/env python3
"""Cost of an in-memory control lookup: `ControlState.for_request` (the gateway's, per request) and
`Guard.enabled()` (the SDK's, per call in the app), each with 400 controls in the state.

The tests check why these are cheap (the app index, the memo, no I/O); the figure lives here.
Target: < 20 us per lookup.

  .venv/bin/python bench/lookups.py [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fireline.config import AppConfig
from fireline.controls.state import Control, ControlState
from fireline.guard import Guard

TARGET_US = 20.0
APPS = {"bot": AppConfig(fallback="paused", models=["m2", "m1"], tools={"refund": "write", "lookup": "read"})}


def state_of_400() -> ControlState:
    now = datetime.now(UTC)

    def ctl(i: int, kind: str, scope: dict[str, str], params: dict[str, object]) -> Control:
        return Control(id=f"c{i}", kind=kind, scope=scope, params=params, incident_id=None, actor="bench",
                       reason=None, created_at=now, expires_at=None, revision=i)

    controls = [ctl(i, "kill_switch", {"app": f"app{i}"}, {}) for i in range(200)]
    controls += [ctl(200 + i, "rate_limit", {"app": "bot", "user": f"u{i}"}, {"per_minute": 5}) for i in range(200)]
    return ControlState(400, controls, APPS)


def per_call_us(call: Callable[[str], object], n: int, users: list[str]) -> float:
    for u in users:  # warm: the first lookup of each request shape computes, the rest are memo hits
        call(u)
    start = time.perf_counter()
    for i in range(n):
        call(users[i % len(users)])
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args(argv)
    users = [f"u{i}" for i in range(50)]
    state = state_of_400()
    gateway = per_call_us(lambda u: state.for_request(app="bot", user=u, tenant="t"), args.n, users)
    guard = Guard("http://127.0.0.1:9", "k", "bot", start=False)  # no stream: the state as it would arrive on it
    guard._apply(json.dumps(state.to_json()))
    sdk = per_call_us(lambda u: guard.enabled(user=u), args.n, users)
    worst = max(gateway, sdk)
    verdict = "PASS" if worst < TARGET_US else "FAIL"
    print(f"RESULT lookups n={args.n} for_request_us={gateway:.2f} guard_enabled_us={sdk:.2f} "
          f"target<{TARGET_US:.0f}us {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
