"""What the monitors add per call on the ingest path (target: <= 20 us per call for all of them).

In process, on calls shaped like the drift tests' support traffic (a question of ~90 characters,
an answer of ~200, 1% refusals, 1% garbled answers, two models, two cohorts), already through the
privacy pass and the detectors, so only the monitor work is timed:

- `monitors` (after two days of the same traffic, so baselines are trusted): each call's facts
  (group keys, cohort attributes, the distribution features: length bins, language, script, topic)
  and `Engine.observe` for every default monitor (25: the 13 of before, the quality, drift,
  hallucination and disparity ones, the policies' tool_data_egress, and the semantic extra's two,
  which see no findings here), in batches of 100 as
  ingest hands them over; plus the change tracker (model, fingerprint, prompt,
  tools, guardrail versions). Also the 13 older monitors alone, for the "before" figure.
- `quality profile`: the output_quality detector's measurements (fastText language ID on up to
  200 characters of answer and, when needed, question; script; corruption score), counted with
  the detectors (it runs in the detection processor, not the monitors) but shown here because
  the language and length monitors read it.

There is no peer figure: LiteLLM and Phoenix compute no in-path drift monitors (Phoenix computes
drift offline over stored spans). Timings are the thread's CPU time (the machine is shared with
other work, so wall-clock time would measure the neighbours), medians of 5 passes after a
warm-up, single thread.

    .venv/bin/python bench/monitors.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

os.environ.setdefault("FIRELINE_SECRET", "bench-secret-not-for-production")

from tests.detect.scenarios import garbled, noise, stream  # noqa: E402

from fireline.calls.schemas import CallIn  # noqa: E402
from fireline.calls.service import PreparedCall, prepare  # noqa: E402
from fireline.config import Config  # noqa: E402
from fireline.detect.canaries import CanaryCache  # noqa: E402
from fireline.detect.changes import ChangeTracker  # noqa: E402
from fireline.detect.detectors.output_quality import last_user_text, profile  # noqa: E402
from fireline.detect.monitor_defaults import DEFAULTS  # noqa: E402
from fireline.detect.monitor_defs import load_monitors  # noqa: E402
from fireline.detect.monitors import Engine  # noqa: E402
from fireline.detect.service import Detection, fact_of, view_of  # noqa: E402

OLD_MONITORS = {"output_guardrail_blocks", "harmful_reports", "pii_secret_leak", "canary_leak", "harmful_output_rate",
                "injection_wave", "ungrounded_citations", "tool_argument_anomaly", "refusal_rate", "cost_per_hour",
                "latency_p99", "error_rate", "thumbs_down_rate", "traffic_drop"}


def calls(n: int) -> list[PreparedCall]:
    rng = random.Random(7)
    end = datetime.now(UTC)
    raw = stream(rng, end - timedelta(hours=n / 3600 * 2), end, 3600 / 2, noise())[:n]
    for i, c in enumerate(raw):
        c["model"] = "gpt-4o" if i % 2 else "claude-3-5-sonnet"
        c["cohort"] = "A" if i % 3 else "B"
        if i % 97 == 0:
            c["output"] = garbled(rng, i)
    now = datetime.now(UTC)
    prepared = [prepare(CallIn.model_validate(c), now) for c in raw]
    detection = Detection(Config(), CanaryCache())
    detection.process(prepared)
    return prepared


def median_us(fn: object, batches: list[list[PreparedCall]], n: int, repeats: int = 5) -> float:
    call = fn  # type: ignore[assignment]
    for b in batches:  # warm-up
        call(b)  # type: ignore[operator]
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()  # CPU time of this thread: the machine is shared, wall time is not ours
        for b in batches:
            call(b)  # type: ignore[operator]
        times.append(time.thread_time() - t0)
    return statistics.median(times) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    prepared = calls(args.calls)
    n = len(prepared)
    batches = [prepared[i:i + 100] for i in range(0, n, 100)]
    cohorts = ("cohort",)

    def engine_for(defs: list) -> Engine:  # type: ignore[type-arg]
        return Engine(defs, lambda fired: None)

    everything = load_monitors(None)
    before = load_monitors(None, defaults=[d for d in DEFAULTS if d["name"] in OLD_MONITORS])
    all_engine, old_engine = engine_for(everything), engine_for(before)
    tracker = ChangeTracker(db=None)  # type: ignore[arg-type]  # no marker is recorded: versions are steady

    # Steady state: two earlier days of the same traffic, so baselines are trusted (as in production,
    # where a distribution monitor keeps only calls outside its usual bins to link to an alert).
    for engine in (all_engine, old_engine):
        for days in (2, 1):
            for b in batches:
                facts = [fact_of(p, cohorts) for p in b]
                for f in facts:
                    f.minute -= days * 1440
                engine.observe(facts)

    def all_monitors(batch: list[PreparedCall]) -> None:
        all_engine.observe([fact_of(p, cohorts) for p in batch])
        tracker.observe(batch)

    def old_monitors(batch: list[PreparedCall]) -> None:
        old_engine.observe([fact_of(p, cohorts) for p in batch])

    def quality(batch: list[PreparedCall]) -> None:
        for p in batch:
            view = view_of(p)
            profile(view.output_text, last_user_text(view))

    load = os.getloadavg()
    total = median_us(all_monitors, batches, n)
    older = median_us(old_monitors, batches, n)
    prof = median_us(quality, batches, n)
    print(f"machine: {os.cpu_count()} cores shared with other work; load average {load[0]:.1f} "
          f"{load[1]:.1f} {load[2]:.1f} (1/5/15 min) at start; {n} calls, batches of 100")
    print(f"{'what (CPU time)':<58}{'us/call':>10}")
    print(f"{'all monitors (' + str(len(everything)) + ') + change tracker, ingest path':<58}{total:>10.1f}"
          f"   target <= 20")
    print(f"{'  the ' + str(len(before)) + ' monitors of before alone (same call facts)':<58}{older:>10.1f}")
    print(f"{'quality profile (language ID, script, corruption; detector)':<58}{prof:>10.1f}")
    print("peer: none computes in-path drift monitors (see the docstring)")


if __name__ == "__main__":
    main()
