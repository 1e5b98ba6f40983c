"""Where an ingested call's CPU goes, stage by stage, in one process (no HTTP).

Runs the real app (create_app + lifespan, so every detector, policy and monitor is wired) on a
fresh SQLite file (or --database-url) and feeds it bench/ingest.py's batches of 100 calls of
~2 KB, timing each stage of `calls.service.ingest` with the thread's CPU clock: decode +
validation, the privacy pass (`prepare`), each detector, policies and session signals, the
batched write, and the monitors (`calls.ingested`). Prints microseconds of CPU per call, the
minimum over --repeats rounds (the least disturbed by other work on a shared machine) and the
median, with the load average beside them.

    .venv/bin/python bench/stages.py [--batches 20] [--repeats 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _server import hot_path  # noqa: E402

from ingest import make_call  # noqa: E402

Clock = Callable[[], float]


class Stages:
    """CPU seconds per named stage, summed over a round."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        t0 = time.thread_time()
        try:
            yield
        finally:
            self.spent[name] += time.thread_time() - t0


def time_detectors(stages: Stages) -> None:
    """Book each detector's CPU under its name: ingest runs them one at a time through `run_all`
    (the detectors may be compiled classes, whose methods cannot be replaced). Wraps the original
    `run_all` whatever an earlier call wrapped."""
    from fireline.detect import screen
    from fireline.detect import service as detect_service
    from fireline.detect.detectors import run_all

    def timed_run_all(detectors: Any, call: Any) -> Any:
        detectors = tuple(detectors)
        with stages.timed("detect." + "+".join(d.name for d in detectors)):
            return run_all(detectors, call)

    screen.run_all = detect_service.run_all = timed_run_all  # type: ignore[attr-defined]


def instrument(app: Any, stages: Stages) -> None:
    """Wrap the pipeline's pieces so each one's CPU time is booked under its name."""
    from fireline.calls import service
    from fireline.detect import screen
    from fireline.detect import service as detect_service

    detection = app.state.detect.detection
    time_detectors(stages)
    if detection.policies:
        check = detection.policies.check

        def timed_check(*a: Any, _orig: Any = check, **k: Any) -> Any:
            with stages.timed("detect.policies"):
                return _orig(*a, **k)

        detection.policies.check = timed_check  # type: ignore[method-assign]
    observe = detection.sessions.observe

    def timed_sessions(*a: Any, **k: Any) -> Any:
        with stages.timed("detect.sessions"):
            return observe(*a, **k)

    detection.sessions.observe = timed_sessions  # type: ignore[method-assign]
    view_of = detect_service.view_of

    def timed_view(p: Any) -> Any:
        with stages.timed("detect.view"):
            return view_of(p)

    detect_service.view_of = screen.view_of = timed_view
    profile = screen.quality_profile

    def timed_profile(*a: Any) -> Any:
        with stages.timed("detect.quality_profile"):
            return profile(*a)

    screen.quality_profile = timed_profile
    prepare, store, published = service.prepare, service.store, service.published

    def timed_prepare(*a: Any) -> Any:
        with stages.timed("prepare (privacy pass, encryption)"):
            return prepare(*a)

    def timed_store(*a: Any) -> Any:
        with stages.timed("store (one transaction)"):
            return store(*a)

    def timed_published(*a: Any) -> Any:
        with stages.timed("monitors (calls.ingested)"):
            return published(*a)

    service.prepare, service.store, service.published = timed_prepare, timed_store, timed_published


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="fireline-stages-")
    os.environ["FIRELINE_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/fireline.db"
    os.environ.setdefault("FIRELINE_SECRET", "bench-secret")
    os.environ.pop("FIRELINE_CONFIG", None)
    from fastapi.testclient import TestClient

    from fireline.api import create_app
    from fireline.calls import service
    from fireline.calls.api import parse_calls

    app = create_app(data_dir=Path(tmp))
    stages = Stages()
    rng = random.Random(7)
    rounds: list[dict[str, float]] = []
    with TestClient(app):
        instrument(app, stages)
        db = app.state.db
        total = args.batches * args.batch
        for r in range(args.repeats + 1):  # the first round warms up
            bodies = [orjson.dumps({"calls": [make_call(r * total + b * args.batch + j, rng)
                                              for j in range(args.batch)]}) for b in range(args.batches)]
            stages.spent.clear()
            prof = cProfile.Profile() if args.profile and r == args.repeats else None
            t0 = time.thread_time()
            if prof:
                prof.enable()
            for body in bodies:
                with stages.timed("decode + validate"):
                    calls = parse_calls(orjson.loads(body))
                service.ingest(db, calls)
            if prof:
                prof.disable()
            whole = time.thread_time() - t0
            if r:
                rounds.append({**{k: v / total * 1e6 for k, v in stages.spent.items()}, "total": whole / total * 1e6})
    names = [k for k in rounds[0] if k != "total"]
    load = os.getloadavg()
    print(f"CPU per call (us), {args.batches} x {args.batch} calls per round, {args.repeats} rounds; "
          f"engine {db.dialect}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; hot path: {hot_path()}")
    print(f"{'stage':46s} {'min':>7s} {'median':>7s}")
    detectors = 0.0
    for name in names:
        values = [rd.get(name, 0.0) for rd in rounds]
        print(f"{name:46s} {min(values):7.1f} {statistics.median(values):7.1f}")
        if name.startswith("detect."):
            detectors += min(values)
    totals = [rd["total"] for rd in rounds]
    print(f"{'(detect.* together, min)':46s} {detectors:7.1f}")
    print(f"{'total, ingest path':46s} {min(totals):7.1f} {statistics.median(totals):7.1f}")
    print(f"=> one core: {1e6 / min(totals):,.0f} calls/s at best")
    if args.profile:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)  # type: ignore[arg-type]
    print("RESULT " + " ".join(f"{n.split(' ')[0]}={min(rd.get(n, 0.0) for rd in rounds):.1f}" for n in names)
          + f" total={min(totals):.1f} load1={load[0]:.1f}")


if __name__ == "__main__":
    main()
