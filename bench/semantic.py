"""The `semantic` extra: what each cluster flags on the shared corpora, and the CPU per text.

Every row of JailbreakBench's JBC (template jailbreaks, all refused) and PAIR (optimised
jailbreaks, 71 jailbroken answers), TruthfulQA (790 questions, best answers), XSTest (450
prompts) and HarmBench (400 behaviours), through the semantic detector with its default
exemplars and thresholds. CPU is the process's CPU time per text embedded (the machine is
shared, so wall-clock time would measure the neighbours). No peer figure: the peers measured in
shared/peers ship no embedding detector. Skips (exit 0) without the extra or the corpora.

    .venv/bin/python bench/semantic.py
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    from fireline.detect import semantic

    if not semantic.available() or not DATA.is_dir():
        print("skipped: needs pip install 'fireline[semantic]' and shared/data beside the repo")
        return
    from fireline.detect.detectors import CallView
    from fireline.detect.detectors.semantic import SemanticDetector

    det = SemanticDetector({})
    texts = 0

    def kinds(user: str = "", output: str = "") -> set[str]:
        nonlocal texts
        texts += bool(user) + bool(output)
        view = CallView.from_record({"app": "a", "input": [{"role": "user", "content": user}] if user else [],
                                     "output": output})
        return {f.kind for f in det.detect(view)}

    def load_json(rel: str) -> list[dict[str, Any]]:
        return list(json.loads((DATA / rel).read_text(encoding="utf-8"))["jailbreaks"])

    def load_csv(rel: str) -> list[dict[str, str]]:
        with (DATA / rel).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    jbc = load_json("jailbreakbench-artifacts/JBC/gpt-3.5-turbo-1106.json")
    pair = load_json("jailbreakbench-artifacts/PAIR/gpt-3.5-turbo-1106.json")
    tqa = load_csv("TruthfulQA/TruthfulQA.csv")
    xs = load_csv("exaggerated-safety/xstest_prompts.csv")
    hb = load_csv("HarmBench/harmbench_behaviors_text_all.csv")
    rows = [
        ("JBC prompts", "jailbreak_like", [{"user": j["prompt"]} for j in jbc]),
        ("PAIR prompts", "jailbreak_like", [{"user": j["prompt"]} for j in pair if j["prompt"]]),
        ("JBC responses", "refusal_like", [{"output": j["response"]} for j in jbc if j["response"]]),
        ("PAIR jailbroken responses", "refusal_like",
         [{"output": j["response"]} for j in pair if j["jailbroken"] and j["response"]]),
        ("TruthfulQA best answers", "refusal_like", [{"output": r["Best Answer"]} for r in tqa]),
    ]
    for name, items in (("TruthfulQA questions", [{"user": r["Question"]} for r in tqa]),
                        ("XSTest prompts", [{"user": r["prompt"]} for r in xs]),
                        ("HarmBench behaviours", [{"user": r["Behavior"]} for r in hb])):
        rows += [(name, "jailbreak_like", items), (name, "complaint", items)]
    t0 = time.process_time()
    seen: dict[tuple[str, ...], set[str]] = {}
    print(f"{'set':<28} {'cluster':<16} flagged")
    for name, kind, items in rows:
        hits = 0
        for it in items:
            key = (it.get("user", ""), it.get("output", ""))
            if key not in seen:
                seen[key] = kinds(**it)
            hits += kind in seen[key]
        print(f"{name:<28} {kind:<16} {hits} / {len(items)}")
    cpu = (time.process_time() - t0) / max(texts, 1) * 1000
    print(f"CPU per text embedded: {cpu:.1f} ms ({texts} texts; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    sys.exit(main())
