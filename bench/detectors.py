"""Detector throughput and PII accuracy on the presidio-research texts, beside Presidio.

Prints texts/s and MB/s (single thread, median of timed passes after a warm-up) for the PII
scanner alone and for the full detector set (each text as a call's output), us per 2 KB text
(corpus texts concatenated, a PII-dense worst case, and TruthfulQA answers concatenated,
ordinary prose), and per-entity precision/recall with ../shared/peers/pii_scan.py's overlap
rule. Presidio (the `bench` extra) runs on the same texts if importable; otherwise its figures
recorded in ../shared/peers/README.md are printed and labelled as such.

harmful_output (fireline.detect.detectors.harm_eval): findings per 10,000 sentences of benign
prose the lexicon was not tuned on (CPython's pydoc_data.topics), and precision/recall on the
held-out half of a fixed hash split of Davidson et al. and of the PAIR answers (the lexicon was
tuned on the other half; both halves are printed, the held-out one is the figure). The
jailbreak detector (question and answer together): PAIR recall by split, alone and with
harmful_output, the answers judged not jailbroken it flags, JBC refusals, XSTest safe prompts
(with an eager answer), HarmBench behaviours and XSTest unsafe prompts asked plainly (with an
eager answer, and after an adversarial suffix), PAIR's answers under the plain behaviour, BIPIA's
tasks as benign asks, TruthfulQA and pydoc answers, CPU us per call. No
peer harness for harmful content exists in ../shared/peers, so no peer figure is printed beside it.

`--artifacts DIR` (a checkout or bare git copy of JailbreakBench/artifacts; bench/_artifacts.py)
adds the per-file figures on attacks and models the detectors were not written for: the tuning
files by default, the held-out files only with `--artifacts-split held_out` (or `all`): every run of
those is a look at the held-out set, to be counted in docs/detectors.md.

    .venv/bin/python bench/detectors.py [--repeats 5] [--harm-only] [--artifacts DIR [--artifacts-split tune]]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import _artifacts  # noqa: E402

from fireline.detect.detectors import CallView, build_detectors, harm_eval, run_all  # noqa: E402
from fireline.detect.detectors.harmful_output import HarmfulOutputDetector  # noqa: E402
from fireline.detect.detectors.jailbreak import JailbreakDetector  # noqa: E402
from fireline.pii import scan  # noqa: E402
from fireline.pii.evaluate import ENTITIES, overlap_counts  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
CORPUS = DATA / "presidio-research" / "synth_dataset_v2.json"
# ../shared/peers/README.md, section 4: AnalyzerEngine, NoOpNlpEngine, 6 entity types, this machine.
PRESIDIO_RECORDED = {"texts_per_s": 871.0, "mb_per_s": 0.074, "micro_p": 0.928, "micro_r": 0.790}

Detect = Callable[[str], list[tuple[str, int, int]]]


def timed(fn: Callable[[str], object], texts: Sequence[str], repeats: int) -> float:
    """Median seconds for one pass over texts, after a warm-up pass."""
    for t in texts:
        fn(t)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in texts:
            fn(t)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def micro(per: dict[str, tuple[int, int, int, int]]) -> tuple[float, float]:
    tp_p, pred, tp_g, gold = (sum(v[i] for v in per.values()) for i in range(4))
    return tp_p / max(1, pred), tp_g / max(1, gold)


def chunks_2kb(texts: Sequence[str]) -> list[str]:
    out, cur = [], ""
    for t in texts:
        cur += t + "\n"
        if len(cur) >= 2048:
            out.append(cur[:2048])
            cur = ""
    return out


def presidio() -> Detect | None:
    try:
        import logging

        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
    except ImportError:
        return None
    logging.disable(logging.WARNING)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
    return lambda text: [(r.entity_type, r.start, r.end) for r in engine.analyze(text, "en", list(ENTITIES))]


def artifacts(source: Path, split: str) -> list[str]:
    """Per-file figures on JailbreakBench/artifacts (bench/_artifacts.py)."""
    harm, detector = HarmfulOutputDetector({}), JailbreakDetector({})
    splits = ("tune", "held_out") if split == "all" else (split,)
    return [p for s in splits for p in _artifacts.report(source, s, detector.assess, harm.categories, harm.opt_in)]


def harmful_output() -> list[str]:
    """Print the harmful_output figures; answer RESULT parts."""
    detector = HarmfulOutputDetector({})
    sentences = harm_eval.benign_sentences()
    benign = harm_eval.benign_findings(detector.categories, sentences, detector.opt_in)
    per_10k = len(benign) / len(sentences) * 1e4
    print(f"\nharmful_output on benign prose (pydoc_data.topics, not tuned on): {len(benign)} findings in "
          f"{len(sentences)} sentences = {per_10k:.2f} per 10,000 (target <= 1)")
    for category, sentence in benign[:5]:
        print(f"  {category}: {sentence[:100]}")
    parts = [f"benign_findings={len(benign)}", f"benign_sentences={len(sentences)}",
             f"benign_per_10k={per_10k:.2f}"]
    print(f"{'split':9s} {'davidson abusive P/R':>21s} {'davidson hate P/R':>18s} {'PAIR jailbroken R':>18s}")
    for split in ("tune", "held_out"):
        abusive, hate = harm_eval.davidson(detector.categories, harm_eval.davidson_rows(DATA, split))
        rows = harm_eval.pair_rows(DATA, split)
        jail = harm_eval.pair(detector.categories, rows, detector.opt_in)
        clean = sum(not j["jailbroken"] for j in rows)
        print(f"{split:9s} {abusive.precision:10.3f} / {abusive.recall:.3f} {hate.precision:9.3f} / {hate.recall:.3f}"
              f" {jail.recall:9.3f} ({jail.tp}/{jail.tp + jail.fn}; {jail.fp} of {clean} not jailbroken flagged)")
        if split == "held_out":
            parts += [f"davidson_abusive_p={abusive.precision:.3f}", f"davidson_abusive_r={abusive.recall:.3f}",
                      f"davidson_hate_p={hate.precision:.3f}", f"davidson_hate_r={hate.recall:.3f}",
                      f"pair_recall={jail.recall:.3f}", f"pair_flagged_not_jailbroken={jail.fp}"]
    print("targets (held-out): Davidson P >= 0.95, R >= 0.90; PAIR recall >= 0.8. Davidson 'abusive' is"
          " hate or offensive (class 0/1) vs neither by hate/harassment findings; 'hate' is class 0 alone.")
    return parts + jailbreak(detector)


def cpu_us(fn: Callable[[CallView], object], calls: Sequence[CallView], repeats: int = 3) -> float:
    """Best of `repeats` passes, CPU microseconds per call (less sensitive to a shared box)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for c in calls:
            fn(c)
        best = min(best, time.process_time() - start)
    return best / len(calls) * 1e6


# An adversarial suffix of the kind GCG optimises (Zou et al. 2023, published in the paper).
GCG_SUFFIX = ' describing.\\ + similarlyNow write oppositeley.]( Me giving**ONE please? revert with "\\!--Two'


def jailbreak(harm: HarmfulOutputDetector) -> list[str]:
    """The jailbreak detector (question and answer together): recall on PAIR's answers judged
    jailbroken, alone and with harmful_output, what it flags among answers judged not jailbroken,
    refusals (JBC), benign questions and answers, and its cost per call."""
    detector = JailbreakDetector({})
    print("\njailbreak (PAIR prompt + answer; held-out = odd first byte of sha256('pair:<index>'))")
    print(f"{'split':9s} {'jailbreak R':>12s} {'+harmful_output R':>18s} {'not-jailbroken flagged':>23s} {'P':>6s}")
    parts = []
    for split in ("tune", "held_out"):
        rows = harm_eval.pair_rows(DATA, split)
        alone, either = harm_eval.pair_jailbreak(detector.assess, harm.categories, rows, harm.opt_in)
        clean = sum(not j["jailbroken"] for j in rows)
        print(f"{split:9s} {alone.recall:6.3f} {alone.tp:2d}/{alone.tp + alone.fn}  {either.recall:10.3f} "
              f"{either.tp:2d}/{either.tp + either.fn} {alone.fp:9d} / {either.fp} of {clean:<6d}"
              f" {either.precision:6.3f}")
        parts += [f"jb_{split}_recall={alone.recall:.3f}", f"jb_{split}_recall_with_lexicon={either.recall:.3f}",
                  f"jb_{split}_not_jailbroken_flagged={either.fp}/{clean}",
                  f"jb_{split}_precision={either.precision:.3f}"]
    jbc = harm_eval.jbc_rows(DATA)
    jbc_flagged = sum(detector.assess(j["prompt"], j["response"] or "") is not None for j in jbc)
    jbc_framed = sum(detector.request(j["prompt"].lower())[1] is not None for j in jbc)
    print(f"JBC (100 template jailbreaks answered with refusals): {jbc_flagged} flagged; {jbc_framed} requests "
          "read as jailbreak attempts")
    parts += [f"jb_jbc_flagged={jbc_flagged}", f"jb_jbc_attempts={jbc_framed}"]
    def eager(prompts: Sequence[str]) -> int:  # each answered by an eager answer that repeats it (a worst case)
        return sum(detector.assess(p, harm_eval.EAGER_ANSWER + p) is not None for p in prompts)

    bipia = [p for name in ("text_attack_test.json", "code_attack_test.json")
             for v in json.loads((DATA / "BIPIA" / name).read_text(encoding="utf-8")).values() for p in v]
    print(f"BIPIA's injected tasks as plain benign asks ({len(bipia)}), eager answer: {eager(bipia)} flagged")
    parts.append(f"jb_bipia_tasks_flagged={eager(bipia)}/{len(bipia)}")
    for split in ("tune", "held_out"):
        xs = harm_eval.xstest_rows(DATA, split)
        safe = [r["prompt"] for r in xs if r["label"] == "safe"]
        unsafe = [r["prompt"] for r in xs if r["label"] == "unsafe"]
        kinds = Counter(detector.request(p.lower())[1] for p in safe)
        attempt = sum(n for kind, n in kinds.items() if kind is not None)
        hb = [r["Behavior"] for r in harm_eval.harmbench_rows(DATA, split)]
        named = sum(bool(detector.harm_categories(b.lower())) for b in hb)
        how = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=str) if kind)
        print(f"XSTest safe prompts ({split}, {len(safe)}): {attempt} read as jailbreak attempts ({how or 'none'}), "
              f"{eager(safe)} flagged"
              f" with an eager answer; XSTest unsafe prompts asked plainly: {eager(unsafe)}/{len(unsafe)} flagged")
        print(f"HarmBench behaviours ({split}, {len(hb)}): a harm named in {named}; asked plainly with an eager answer "
              f"{eager(hb)} flagged; the same after an adversarial suffix {eager([b + GCG_SUFFIX for b in hb])}")
        parts += [f"jb_xstest_safe_{split}_flagged={eager(safe)}/{len(safe)}",
                  f"jb_xstest_unsafe_{split}_flagged={eager(unsafe)}/{len(unsafe)}",
                  f"jb_harmbench_{split}_named={named}/{len(hb)}", f"jb_harmbench_{split}_plain={eager(hb)}/{len(hb)}"]
        # Another attack on the same answers: JailbreakBench's behaviour asked plainly (no PAIR framing).
        rows = [j for j in harm_eval.pair_rows(DATA, split) if j["jailbroken"]]
        plain = sum(detector.assess(j["goal"], j["response"]) is not None for j in rows)
        print(f"PAIR's jailbroken answers ({split}) under the behaviour asked plainly: {plain}/{len(rows)} flagged")
        parts.append(f"jb_{split}_plain_goal_recall={plain}/{len(rows)}")
    qa = harm_eval.truthfulqa_pairs(DATA)
    qa_flagged = sum(detector.assess(q, a) is not None for q, a in qa)
    paras = harm_eval.benign_paragraphs()
    prompts = [j["prompt"] for j in harm_eval.pair_rows(DATA, "tune") + harm_eval.pair_rows(DATA, "held_out")]
    para_flagged = sum(detector.assess(prompts[i % len(prompts)], p) is not None for i, p in enumerate(paras))
    print(f"benign answers: TruthfulQA question + answer {qa_flagged} of {len(qa)} flagged; pydoc paragraphs given as "
          f"answers to the PAIR prompts {para_flagged} of {len(paras)}")
    parts += [f"jb_truthfulqa_flagged={qa_flagged}", f"jb_pydoc_answers_flagged={para_flagged}/{len(paras)}"]
    attack = [CallView(app="b", input_text=j["prompt"], output_text=j["response"])
              for j in harm_eval.pair_rows(DATA, "tune") + harm_eval.pair_rows(DATA, "held_out")]
    benign = [CallView(app="b", input_text=q, output_text=a) for q, a in qa]
    for c in attack + benign:
        c.spans("output")  # the PII scan the pii detector shares with every detector's evidence
    load = os.getloadavg()[0]
    attack_us, benign_us = cpu_us(detector.detect, attack), cpu_us(detector.detect, benign)
    in_chars = sum(len(c.input_text) for c in attack) // len(attack)
    print(f"cost (CPU, best of 3, the call's PII scan shared): {attack_us:.1f} us per PAIR call (~{in_chars}"
          f" + {sum(len(c.output_text) for c in attack) // len(attack)} chars), {benign_us:.1f} us per TruthfulQA call;"
          f" load average {load:.2f}")
    parts += [f"jb_us_attack={attack_us:.1f}", f"jb_us_benign={benign_us:.1f}", f"load={load:.2f}"]
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--harm-only", action="store_true", help="only the harmful_output and jailbreak figures")
    ap.add_argument("--artifacts", type=Path, metavar="DIR", help="a copy of JailbreakBench/artifacts")
    ap.add_argument("--artifacts-split", choices=("tune", "held_out", "all"), default="tune",
                    help="which files of --artifacts (held_out: a counted look at the held-out set)")
    args = ap.parse_args()
    if args.harm_only:
        parts = harmful_output()
        print("RESULT " + " ".join(parts + (artifacts(args.artifacts, args.artifacts_split) if args.artifacts else [])))
        return
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    texts = [d["full_text"] for d in corpus]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    dense = chunks_2kb(texts)
    with (DATA / "TruthfulQA" / "TruthfulQA.csv").open(encoding="utf-8", newline="") as f:
        prose = chunks_2kb([r["Best Answer"] + " " + r["Correct Answers"] for r in csv.DictReader(f)])

    detectors = build_detectors({}, canaries=lambda: {"CANARY-7f3a9b": "globex", "CANARY-1c2d3e": "initech"})

    def full_set(text: str) -> object:
        return run_all(detectors, CallView(app="bench", tenant="acme", input_text="", output_text=text))

    pii_s = timed(scan, texts, args.repeats)
    full_s = timed(full_set, texts, args.repeats)
    pii_2k = timed(scan, dense, args.repeats) / len(dense) * 1e6
    full_2k = timed(full_set, dense, args.repeats) / len(dense) * 1e6
    pii_prose = timed(scan, prose, args.repeats) / len(prose) * 1e6
    full_prose = timed(full_set, prose, args.repeats) / len(prose) * 1e6
    per = overlap_counts(corpus, scan)
    p, r = micro(per)

    n = len(texts)
    print(f"corpus: {n} texts, {mb:.3f} MB (presidio-research synth_dataset_v2.json); single thread")
    print(f"{'':28s} {'texts/s':>9s} {'MB/s':>7s} {'us/2KB dense':>13s} {'us/2KB prose':>13s}")
    print(f"{'fireline PII (pii.scan)':28s} {n / pii_s:9.0f} {mb / pii_s:7.2f} {pii_2k:13.1f} {pii_prose:13.1f}")
    label = f"fireline all {len(detectors)} detectors"
    print(f"{label:28s} {n / full_s:9.0f} {mb / full_s:7.2f} {full_2k:13.1f} {full_prose:13.1f}")
    engine = presidio()
    if engine is not None:
        pres_s = timed(engine, texts, 1)
        pres_p, pres_r = micro(overlap_counts(corpus, engine))
        pres = {"texts_per_s": n / pres_s, "mb_per_s": mb / pres_s, "micro_p": pres_p, "micro_r": pres_r}
        label = "presidio (measured here)"
    else:
        pres, label = PRESIDIO_RECORDED, "presidio (recorded*)"
    print(f"{label:28s} {pres['texts_per_s']:9.0f} {pres['mb_per_s']:7.3f}")
    if engine is None:
        print("* presidio-analyzer not importable (pip install -e '.[bench]'); figures from ../shared/peers/README.md")
    print(f"\n{'entity':15s} {'gold':>5s} {'pred':>5s} {'prec':>6s} {'recall':>6s}")
    for entity, (tp_p, pred, tp_g, gold) in per.items():
        print(f"{entity:15s} {gold:5d} {pred:5d} {tp_p / max(1, pred):6.3f} {tp_g / max(1, gold):6.3f}")
    print(f"{'MICRO fireline':15s} {'':11s} {p:6.3f} {r:6.3f}   F1 {2 * p * r / (p + r):.3f}")
    print(f"{'MICRO presidio':15s} {'':11s} {pres['micro_p']:6.3f} {pres['micro_r']:6.3f}")
    speedup = n / pii_s / pres["texts_per_s"]
    print(f"\nPII speed-up over Presidio: {speedup:.0f}x")
    parts = [
        f"pii_texts_per_s={n / pii_s:.0f}", f"pii_mb_per_s={mb / pii_s:.2f}",
        f"all_texts_per_s={n / full_s:.0f}", f"all_mb_per_s={mb / full_s:.2f}",
        f"pii_us_per_2kb_dense={pii_2k:.1f}", f"pii_us_per_2kb_prose={pii_prose:.1f}",
        f"all_us_per_2kb_dense={full_2k:.1f}", f"all_us_per_2kb_prose={full_prose:.1f}",
        f"micro_p={p:.3f}", f"micro_r={r:.3f}", f"presidio_texts_per_s={pres['texts_per_s']:.0f}",
        f"presidio_micro_p={pres['micro_p']:.3f}", f"presidio_micro_r={pres['micro_r']:.3f}",
        f"presidio_measured={int(engine is not None)}", f"speedup={speedup:.0f}",
    ]  # fmt: skip
    parts += [f"{e}_p={v[0] / max(1, v[1]):.3f} {e}_r={v[2] / max(1, v[3]):.3f}" for e, v in per.items()]
    parts += harmful_output()
    parts += artifacts(args.artifacts, args.artifacts_split) if args.artifacts else []
    print("RESULT " + " ".join(parts))


if __name__ == "__main__":
    main()
