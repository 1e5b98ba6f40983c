"""CPU per call of the per-call work ingest, OTLP and the gateway share: the privacy pass (`prepare`:
redaction and encryption) and each detector, on bench/ingest.py's calls and on realistic ones.

Call sets: `ingest` (bench/ingest.py's 2 KB calls, repetitive on purpose), `qa` (TruthfulQA
question and answer, the other answers retrieved), `email` (BIPIA e-mails retrieved, its question
and an answer quoting the e-mail), `pii` (presidio-research sentences as question and answer), `pair`
(PAIR jailbreak prompts and answers) and `chat` (three-turn conversations from TruthfulQA). Each set
runs through `calls.service.prepare` and `Detection.process` in one process (no HTTP, no database);
CPU time per stage (thread clock) is the minimum over --repeats rounds, with the load average.

`--dump FILE` writes every call's findings and redacted content as JSON lines, so two commits can be
compared for identical output (`cmp` the files): the hot path's shortcuts must not change a finding.

    .venv/bin/python bench/per_call.py [--repeats 3] [--sets ingest,qa] [--dump out.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("FIRELINE_SECRET", "bench-secret")

from _server import hot_path  # noqa: E402
from stages import Stages, time_detectors  # noqa: E402

from ingest import make_call  # noqa: E402

Call = dict[str, Any]


def _truthfulqa() -> list[dict[str, str]]:
    with (DATA / "TruthfulQA" / "TruthfulQA.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def call_sets(n: int) -> dict[str, list[Call]]:
    rng = random.Random(5)
    qa = _truthfulqa()
    emails = [json.loads(line) for line in (DATA / "BIPIA" / "email" / "test.jsonl").open(encoding="utf-8")]
    corpus = json.loads((DATA / "presidio-research" / "synth_dataset_v2.json").read_text(encoding="utf-8"))
    pii = [d["full_text"] for d in corpus]
    pair = json.loads((DATA / "jailbreakbench-artifacts" / "PAIR" / "gpt-3.5-turbo-1106.json")
                      .read_text(encoding="utf-8"))["jailbreaks"]
    pair = [j for j in pair if j["response"]]

    def base(i: int, app: str) -> Call:
        return {"id": f"{app}-{i:06d}", "app": app, "tenant": f"t-{i % 7}", "user": f"user-{i % 97}",
                "session_id": f"s-{i % 31}", "model": "gpt-4o"}

    sets: dict[str, list[Call]] = {"ingest": [{**make_call(i, rng), "id": f"ingest-{i:06d}"} for i in range(n)]}
    sets["qa"] = [{**base(i, "qa"), "input": [{"role": "user", "content": r["Question"]}],
                   "output": f"{r['Best Answer']} {r['Correct Answers']}",
                   "retrieval": [{"id": f"kb-{j}", "source": "kb", "text": qa[j]["Correct Answers"]}
                                 for j in (i % len(qa), (i * 7 + 3) % len(qa))]}
                  for i, r in enumerate(qa[i % len(qa)] for i in range(n))]
    sets["email"] = [{**base(i, "email"), "input": [{"role": "user", "content": e["question"]}],
                      "output": f"{e['ideal']}. From the e-mail: {e['context'][200:700]}",
                      "retrieval": [{"id": f"mail-{i}", "source": "mail", "text": e["context"]}],
                      "tool_calls": [{"name": "send_email", "kind": "write",
                                      "arguments": {"to": "ops@example.com", "body": e["context"][:300]}}]}
                     for i, e in enumerate(emails[i % len(emails)] for i in range(n))]
    sets["pii"] = [{**base(i, "pii"), "input": [{"role": "user", "content": pii[i % len(pii)]}],
                    "output": pii[(i * 13 + 1) % len(pii)]} for i in range(n)]
    sets["pair"] = [{**base(i, "pair"), "input": [{"role": "user", "content": j["prompt"]}], "output": j["response"]}
                    for i, j in enumerate(pair[i % len(pair)] for i in range(n))]
    sets["chat"] = [{**base(i, "chat"), "input": [
        {"role": "system", "content": "You answer questions truthfully and briefly."},
        {"role": "user", "content": qa[i % len(qa)]["Question"]},
        {"role": "assistant", "content": qa[i % len(qa)]["Best Answer"]},
        {"role": "user", "content": qa[(i + 1) % len(qa)]["Question"]}],
        "output": qa[(i + 1) % len(qa)]["Correct Answers"]} for i in range(n)]
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000, help="calls per set")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sets", default="ingest,qa,email,pii,pair,chat")
    ap.add_argument("--dump", default="", help="write findings and redacted content as JSON lines here")
    args = ap.parse_args()

    from fireline.calls import privacy
    from fireline.calls.api import parse_calls
    from fireline.calls.service import prepare
    from fireline.config import Config
    from fireline.detect import language
    from fireline.detect.canaries import CanaryCache
    from fireline.detect.service import Detection

    sets = {k: v for k, v in call_sets(args.calls).items() if k in args.sets.split(",")}
    now = datetime(2026, 12, 6, tzinfo=UTC)
    # As `serve` does after start-up (fireline.api): word lists loaded, then frozen out of the GC's reach.
    Detection(Config(), CanaryCache()).process([prepare(c, now) for c in parse_calls({"calls": call_sets(5)["qa"]})])
    gc.collect()
    gc.freeze()
    dump = open(args.dump, "wb") if args.dump else None  # noqa: SIM115
    rows: dict[str, dict[str, float]] = {}
    for name, calls in sets.items():
        parsed = parse_calls({"calls": calls})
        best: dict[str, float] = {}
        for r in range(args.repeats + 1):  # round 0 warms up (and is the one dumped)
            detection = Detection(Config(), CanaryCache())  # a fresh baseline per round
            # Results remembered by text (the privacy pass, language identification; fireline.memo) start
            # empty each round: a round gains only from the repeats inside its own set.
            for memo in (getattr(language, "SEEN", None), getattr(privacy, "SEEN", None)):
                if memo is not None:
                    memo.clear()
            stages = Stages()
            time_detectors(stages)
            t0 = time.thread_time()
            prepared = []
            for c in parsed:
                with stages.timed("prepare (privacy pass, encryption)"):
                    prepared.append(prepare(c, now))
            for i in range(0, len(prepared), 100):
                with stages.timed("detect (all, with views and policies)"):
                    detection.process(prepared[i:i + 100])
            stages.spent["total"] = time.thread_time() - t0
            if r == 0 and dump is not None:
                for p in prepared:
                    dump.write(orjson.dumps({"set": name, "id": p.id, "content": p.row["content"],
                                             "findings": p.findings, "labels": p.extras.get("labels")},
                                            option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))
            if r:
                for k, v in stages.spent.items():
                    best[k] = min(best.get(k, float("inf")), v / len(parsed) * 1e6)
        rows[name] = best
    if dump is not None:
        dump.close()
    load = os.getloadavg()
    names = list(dict.fromkeys(k for r in rows.values() for k in r))
    print(f"CPU us per call (thread clock, min of {args.repeats} rounds of {args.calls} calls per set); "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; hot path: {hot_path()}")
    print(f"{'stage':40s}" + "".join(f"{s:>9s}" for s in rows))
    for n in names:
        print(f"{n:40s}" + "".join(f"{rows[s].get(n, 0.0):9.1f}" for s in rows))
    print("RESULT " + " ".join(f"{s}.{n.split(' ')[0]}={v:.1f}" for s, r in rows.items() for n, v in r.items())
          + f" load1={load[0]:.1f}")


if __name__ == "__main__":
    main()
