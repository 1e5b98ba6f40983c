"""The monitors' own work on a fixed, replayable stream: each call's facts (`fact_of`) and
`Engine.observe` for every default monitor, with the engine's clock (`tick`) on a fake clock, so two
commits can be held to the same firings, recoveries, linked calls and series byte for byte
(`--dump FILE`, then `cmp`), and timed or run under callgrind on the same workload.

The calls are bench/ingest.py's (distinct corpus texts) with fixed ids and times, through the
privacy pass and the detectors once (`--cache FILE` keeps them for the next run); the replay
varies what the monitors read so that every kind of monitor moves: findings on for a while, then
off (recoveries after `recover_after`), then flapping; some calls failed, contained, with other
tools, models, prompt versions and cohorts; reports (thumbs down, harmful) now and then; a call
from the future and one too old to count.

    PYTHONPATH=src python bench/monitor_replay.py [--calls 2000] [--minutes 120] [--dump FILE]
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "src"))  # after PYTHONPATH: another commit's src can be replayed
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("FIRELINE_SECRET", "bench-secret")

import orjson  # noqa: E402

from fireline.calls.service import PreparedCall  # noqa: E402
from fireline.detect.facts import Fact  # noqa: E402
from fireline.detect.firing import Fired  # noqa: E402
from fireline.detect.monitor_defs import load_monitors  # noqa: E402
from fireline.detect.monitors import Engine  # noqa: E402
from fireline.detect.service import fact_of  # noqa: E402
from fireline.signals import alert_to_json  # noqa: E402

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
COHORTS = ("cohort",)


def prepared_calls(n: int, cache: str) -> list[PreparedCall]:
    """n calls through the privacy pass and the detectors, with fixed ids (kept in `cache`)."""
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    from fireline.calls.schemas import CallIn
    from fireline.calls.service import prepare
    from fireline.config import Config
    from fireline.detect.canaries import CanaryCache
    from fireline.detect.service import Detection
    from ingest import make_call

    rng = random.Random(7)
    raw = []
    for i in range(n):
        c = make_call(i, rng)
        c["id"] = f"call-{i:06d}"
        raw.append(c)
    out = [prepare(CallIn.model_validate(c), T0) for c in raw]
    Detection(Config(), CanaryCache()).process(out)
    for p in out:  # what the monitors read; the redactor and the blob are not
        p.redactor = None  # type: ignore[assignment]
        p.raw_blob = b""
        p.redacted = {}
    if cache:
        with open(cache, "wb") as f:
            pickle.dump(out, f)
    return out


def workload(base: list[PreparedCall], minutes: int, per_minute: int, batch: int) -> list[tuple[float, list[Any]]]:
    """(clock, batch of calls and reports) in time order; every item its own copy."""
    rng = random.Random(11)
    out: list[tuple[float, list[Any]]] = []
    k = 0
    steps = max(1, per_minute // batch)
    for minute in range(minutes):
        for step in range(steps):
            at = T0 + timedelta(minutes=minute, seconds=step * 60 / steps)
            items: list[Any] = []
            for _ in range(batch):
                src = base[k % len(base)]
                p = PreparedCall(row=dict(src.row), raw=dict(src.raw), redacted={}, redactor=None,  # type: ignore[arg-type]
                                 raw_blob=b"", findings=list(src.findings), extras=dict(src.extras))
                p.row["id"] = f"r{k:07d}"
                p.row["started_at"] = (at - timedelta(seconds=rng.random() * 20)).replace(tzinfo=None)
                phase = minute % 60
                if 20 <= phase < 40 or (phase >= 40 and (phase // 3) % 2):  # off, then flapping
                    p.findings = [f for f in p.findings if rng.random() < 0.05]
                x = rng.random()
                p.row["output_tokens"] = int(rng.gauss(180, 40)) * (4 if 85 <= minute < 100 else 1)
                if (70 <= minute < 80 and x < 0.4) or x < 0.03:
                    p.row["status"] = "error"
                elif x < 0.05:
                    p.row["status"] = "blocked"
                if rng.random() < 0.2:
                    p.raw["tool_calls"] = [{"name": rng.choice(("lookup_order", "refund", "search"))}]
                elif rng.random() < 0.1:
                    p.raw["tool_calls"] = []
                if rng.random() < 0.3:
                    p.row["model_resolved"] = "gpt-4o-mini"
                if rng.random() < 0.2:
                    p.row["prompt_version"] = "v13"
                p.raw["metadata"] = {"cohort": rng.choice("AB")} if rng.random() < 0.8 else {"route": "/x"}
                p.row["cost_usd"] = round(rng.random() * 0.01, 6)
                p.row["latency_ms"] = rng.choice((None, 300.0, 850.0, 2000.0 + rng.random() * 9000))
                if minute % 37 == 3 and rng.random() < 0.4:
                    p.findings = p.findings + [copy.copy(f) for f in base[(k * 7) % len(base)].findings]
                items.append(p)
                k += 1
            if rng.random() < 0.3:
                items.append(Fact(id=f"rep{k}", minute=int(at.timestamp() // 60), app=f"app-{k % 5}",
                                  tenant=None, model=None, prompt_version=None, tools=(),
                                  report_kind=rng.choice(("thumbs_down", "harmful", "other"))))
            if minute == 50 and step == 0:  # a clock ahead of ours, and a call older than every window
                items[0].row["started_at"] = (at + timedelta(minutes=5)).replace(tzinfo=None)
                items[1].row["started_at"] = (at - timedelta(days=40)).replace(tzinfo=None)
            out.append((at.timestamp(), items))
    return out


def run(batches: list[tuple[float, list[Any]]], emitted: list[list[Fired]] | None = None,
        snapshots: list[Any] | None = None, history: int = 60) -> Engine:
    """The first `history` minutes' calls a day earlier first (trusted baselines), then all of them."""
    now = [batches[0][0] if batches else 0.0]
    emit = emitted.append if emitted is not None else (lambda fired: None)
    engine = Engine(load_monitors(None), emit, clock=lambda: now[0])
    per_minute = sum(1 for at, _ in batches if at < batches[0][0] + 60)
    for _, items in batches[:history * per_minute]:
        facts = [fact_of(x, COHORTS) if isinstance(x, PreparedCall) else x for x in items]
        for i, f in enumerate(facts):
            f.minute -= 1440
            if i % 10:  # a calmer day: most findings are new today
                f.findings = ()
        engine.observe(facts)
    for i, (at, items) in enumerate(batches):
        now[0] = at
        facts = [fact_of(x, COHORTS) if isinstance(x, PreparedCall) else x for x in items]
        engine.observe(facts)
        now[0] = at + 1.0
        engine.tick()
        if snapshots is not None and i % 40 == 39:
            snapshots.append(engine.snapshot())
    return engine


def dump(engine: Engine, emitted: list[list[Fired]], snapshots: list[Any]) -> bytes:
    """Every firing, the snapshots (fresh values of every group) and each series' buckets, running sums,
    linked calls and state. Not `Series.values`, the last evaluation kept for building an alert: a group
    that cannot fire may be left unevaluated until a snapshot evaluates it."""
    lines = []
    for n, fired in enumerate(emitted):
        for f in fired:
            lines.append(orjson.dumps({"emit": n, "monitor": f.monitor.name, "group": f.group, "resolved": f.resolved,
                                       "update": f.update, "before": [f.before[0], str(f.before[1])],
                                       "alert": alert_to_json(f.alert)}, option=orjson.OPT_SORT_KEYS))
    for snap in snapshots:
        lines.append(orjson.dumps(snap, default=str, option=orjson.OPT_SORT_KEYS))
    for mon in engine.monitors:
        for group, s in sorted(mon.series.items()):
            lines.append(orjson.dumps({
                "monitor": mon.d.name, "group": group, "state": s.state, "last_fired": str(s.last_fired),
                "clear_since": str(s.clear_since), "first": s.first, "hit_total": s.hit_total,
                "hits_emitted": s.hits_emitted, "usual": sorted(s.usual), "alerts_fired": mon.alerts_fired,
                "buckets": [[m, repr(b.num), b.den, sorted((b.bins or {}).items())]
                            for m, b in sorted(s.buckets.items())],
                "window": [s.window.lo, s.window.hi, repr(s.window.num), s.window.den, sorted(s.window.bins.items())],
                "history": [s.history.lo, s.history.hi, repr(s.history.num), s.history.den,
                            sorted(s.history.bins.items())],
                "hits": [[h.minute, repr(h.score), h.call_id, h.app, h.tenant, h.model, h.prompt_version, list(h.tools),
                          h.session, h.key] for h in s.hits],
            }, option=orjson.OPT_SORT_KEYS))
    return b"\n".join(lines) + b"\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=2000, help="distinct prepared calls (reused with new ids)")
    ap.add_argument("--minutes", type=int, default=120)
    ap.add_argument("--per-minute", type=int, default=200)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache", default="", help="keep the prepared calls in this pickle")
    ap.add_argument("--dump", default="", help="write every firing, snapshot and series here")
    ap.add_argument("--setup-only", action="store_true",
                    help="load and build the workload, then stop (callgrind: what the other runs share)")
    args = ap.parse_args()
    base = prepared_calls(args.calls, args.cache)
    if args.setup_only:
        for _ in range(args.repeats):
            workload(base, args.minutes, args.per_minute, args.batch)
        return
    if args.dump:
        emitted: list[list[Fired]] = []
        snapshots: list[Any] = []
        engine = run(workload(base, args.minutes, args.per_minute, args.batch), emitted, snapshots)
        Path(args.dump).write_bytes(dump(engine, emitted, snapshots))
        print(f"{sum(len(e) for e in emitted)} firings, updates and resolutions; dump in {args.dump}")
        return
    times = []
    n = 0
    for _ in range(args.repeats):
        batches = workload(base, args.minutes, args.per_minute, args.batch)
        n = sum(len(b) for _, b in batches)
        t0 = time.thread_time()
        run(batches)
        times.append(time.thread_time() - t0)
    load = os.getloadavg()
    print(f"monitors (fact_of + observe + tick) us per call: min {min(times) / n * 1e6:.1f} "
          f"median {statistics.median(times) / n * 1e6:.1f} over {args.repeats} rounds of {n} items; "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
