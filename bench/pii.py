"""The privacy pass over every labelled type, beside Presidio + spaCy measured in the same run.

Scoring is ../shared/peers/pii_any.py's, type-agnostic (`fireline.pii.evaluate.any_overlap`): a
labelled span counts as redacted when any predicted span overlaps it; a predicted span is right
when it overlaps any labelled span. Corpora:
  - presidio-research synth_dataset_v2.json, all 17 types: the full corpus, and its fixed held-out
    split (30% of texts by SHA-256 of the text, `fireline.pii.evaluate.held_out`), never tuned on;
  - tests/data/pii_prompts.json: hand-written chat prompts of other shapes and locales (69; the
    detector was adjusted after their first measurement), and pii_prompts_fresh.json (30, written
    afterwards and never tuned on);
  - benign technical prose: CPython's pydoc_data.topics paragraphs (pii_any.py's selection), where
    every redaction is a false one, per 2,000 words.
Throughput: one thread, texts/s over the presidio texts (best of --repeats passes after a
warm-up, by wall clock; the machine is shared, so the load average is printed too).
Per-part contributions: the same measures with the passes added one at a time.

Presidio + spaCy runs through ../shared/peers/pii_any.py (it installs itself into
/tmp/venv-presidio-spacy on first use); --no-peer skips it.

    .venv/bin/python bench/pii.py [--repeats 3] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fireline.pii import scanner  # noqa: E402
from fireline.pii.evaluate import any_overlap, held_out  # noqa: E402

PEERS = ROOT / ".." / "shared" / "peers"
CORPUS = ROOT / ".." / "shared" / "data" / "presidio-research" / "synth_dataset_v2.json"
PROMPTS = ROOT / "tests" / "data" / "pii_prompts.json"
FRESH = ROOT / "tests" / "data" / "pii_prompts_fresh.json"

Detect = Callable[[str], list[tuple[str, int, int]]]


def benign_paragraphs(limit: int = 1500) -> list[str]:
    from pydoc_data.topics import topics

    paras: list[str] = []
    for text in topics.values():
        paras += [p.strip() for p in text.split("\n\n") if len(p.split()) >= 8 and not p.startswith(" ")]
    return paras[:limit]


def throughput(detect: Detect, texts: Sequence[str], repeats: int) -> tuple[float, float]:
    """Texts per second of wall-clock time and per second of this process's CPU time (best pass).
    On a machine shared with other work the CPU figure is the one-core figure; wall time also
    counts the time other processes held the core."""
    for t in texts[:50]:
        detect(t)
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for t in texts:
            detect(t)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return len(texts) / wall, len(texts) / cpu


def benign_rate(detect: Detect, paras: Sequence[str]) -> tuple[float, list[str]]:
    words = sum(len(p.split()) for p in paras)
    flagged = [f"{p[s:e]!r} as {k}" for p in paras for k, s, e in detect(p)]
    return len(flagged) * 2000 / max(1, words), flagged


@contextmanager
def only_passes(names: set[str], lists: str = "all") -> Iterator[None]:
    """Run the scanner with a subset of its passes; lists: "all", "words" (English and other
    languages' word frequencies, no name or place lists) or "none"."""
    from fireline.pii import gazetteer

    saved = scanner.PASSES
    g = gazetteer.get()
    _clear_word_caches()
    scanner.PASSES = tuple(p for p in saved if p[0] in names)
    if lists != "all":
        empty: frozenset[str] = frozenset()
        keep_words = lists == "words"
        gazetteer._loaded = gazetteer.Gazetteer(
            empty, empty, empty, empty, g.words if keep_words else {},
            g.foreign if keep_words else empty, g.foreign_common if keep_words else empty)
    try:
        yield
    finally:
        scanner.PASSES = saved
        gazetteer._loaded = g
        _clear_word_caches()


def _clear_word_caches() -> None:
    """The entity pass caches per-word look-ups; they must not outlive a change of word lists."""
    from fireline.pii import capwords

    capwords._PLAIN.clear()
    capwords._FEATURES.clear()
    capwords._WORDS.clear()


def peer(corpus: list[dict[str, Any]], benign: bool) -> dict[str, str]:
    """Presidio + spaCy through pii_any.py on the given corpus; its RESULT line as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(corpus, f)
    try:
        cmd = [sys.executable if os.path.exists(sys.executable) else "python3", str(PEERS / "pii_any.py"),
               "--detector", "presidio-spacy", "--corpus", f.name]
        if not benign:
            cmd += ["--benign-paragraphs", "0"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    finally:
        os.unlink(f.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), "")
    if not line:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:][0] if (out.stderr or out.stdout) else "?"}
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def fmt_row(name: str, r: dict[str, Any]) -> str:
    return f"  {name:<34} recall {r['recall']:.3f}  precision {r['precision']:.3f}  ({r['labelled']} spans)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--show", type=int, default=0, help="print N misses and false redactions of the full corpus")
    a = ap.parse_args()

    data = json.loads(CORPUS.read_text())
    held = [d for d in data if held_out(d["full_text"])]
    prompts = json.loads(PROMPTS.read_text()) if PROMPTS.exists() else []
    fresh = json.loads(FRESH.read_text()) if FRESH.exists() else []
    paras = benign_paragraphs()
    texts = [d["full_text"] for d in data]
    scan = scanner.scan
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at start (shared with other work)")
    print(f"presidio-research: {len(data)} texts ({len(held)} held out by SHA-256 of the text); "
          f"chat prompts: {len(prompts)}; benign: {len(paras)} pydoc paragraphs")

    full, ho, pr = any_overlap(data, scan), any_overlap(held, scan), any_overlap(prompts, scan)
    fr = any_overlap(fresh, scan)
    tps, tps_cpu = throughput(scan, texts, a.repeats)
    fp, flagged = benign_rate(scan, paras)
    print("\nfireline (fireline.detectors.pii_spans)")
    print(fmt_row("presidio-research, all", full))
    print(fmt_row("presidio-research, held-out split", ho))
    print(fmt_row("chat prompts (tests/data)", pr))
    print(fmt_row("fresh chat prompts (never tuned on)", fr))
    print(f"  texts/s one thread: {tps:,.0f} wall-clock, {tps_cpu:,.0f} per CPU-second; "
          f"benign false redactions per 2,000 words: {fp:.2f}"
          f" ({len(flagged)}: {'; '.join(flagged[:8])})")
    print("  per-type recall (all): " + ", ".join(f"{t} {h / n:.2f}" for t, (h, n) in full["per_type"].items()))
    print("  per-type recall (held-out): " + ", ".join(f"{t} {h / n:.2f}" for t, (h, n) in ho["per_type"].items()))
    if a.show:
        for t, v, text in full["misses"][: a.show]:
            print(f"    miss {t} {v!r} in {text[:100]!r}")
        for t, v, text in full["false"][: a.show]:
            print(f"    false {t} {v!r} in {text[:100]!r}")

    print("\nper part, added one at a time (held-out split / all chat prompts / benign per 2,000 words / "
          "texts per CPU-second)")
    every = {p[0] for p in scanner.PASSES}
    steps = [
        ("validated patterns (before)", {"validated"}, "none"),
        ("+ dates, ages, ids, domains", {"validated", "ids", "domains", "dates", "postcodes"}, "none"),
        ("+ address structure", {"validated", "ids", "domains", "dates", "postcodes", "addresses"}, "none"),
        ("+ capitalisation and context", every, "none"),
        ("+ word frequency lists", every, "words"),
        ("+ name and place lists (all)", every, "all"),
    ]
    for name, names, lists in steps:
        with only_passes(names, lists):
            h, p = any_overlap(held, scanner.scan), any_overlap(prompts + fresh, scanner.scan)
            b, _ = benign_rate(scanner.scan, paras)
            t = throughput(scanner.scan, texts, 1)[1]
        print(f"  {name:<32} R {h['recall']:.3f} P {h['precision']:.3f} | R {p['recall']:.3f} P {p['precision']:.3f}"
              f" | {b:.2f} | {t:,.0f}")

    result = {"recall": f"{full['recall']:.3f}", "precision": f"{full['precision']:.3f}",
              "heldout_recall": f"{ho['recall']:.3f}", "heldout_precision": f"{ho['precision']:.3f}",
              "prompts_recall": f"{pr['recall']:.3f}", "prompts_precision": f"{pr['precision']:.3f}",
              "fresh_recall": f"{fr['recall']:.3f}", "fresh_precision": f"{fr['precision']:.3f}",
              "texts_per_s": f"{tps:.0f}", "texts_per_cpu_s": f"{tps_cpu:.0f}",
              "benign_false_per_2000_words": f"{fp:.2f}"}
    if not a.no_peer:
        print("\nPresidio + spaCy (en_core_web_sm), same scoring, same machine, now:")
        for name, corpus, benign in (("presidio-research, all", data, True), ("held-out split", held, False),
                                     ("chat prompts", prompts, False), ("fresh chat prompts", fresh, False)):
            r = peer(corpus, benign)
            print(f"  {name:<34} " + " ".join(f"{k} {v}" for k, v in r.items() if k != "detector"))
            if name.endswith("all"):
                result.update({f"presidio_{k}": v for k, v in r.items() if k != "detector"})
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
