"""One regression test per public corpus, each with a floor just under the measured figure.

Figures and their meaning are in docs/detectors.md; bench/detectors.py prints them.
"""

from __future__ import annotations

from fireline.detect.detectors import harm_eval
from fireline.detect.detectors.harmful_output import HarmfulOutputDetector
from fireline.detect.detectors.jailbreak import JailbreakDetector
from fireline.detect.detectors.prompt_injection import PromptInjectionDetector
from fireline.detect.detectors.refusal import RefusalDetector
from fireline.pii import scan
from fireline.pii.evaluate import ENTITIES, overlap_counts, precision_recall
from tests.detect.corpora import load_csv, load_json, load_jsonl, path

# Measured: P 1.000 for all six, R 1.000 except CREDIT_CARD 0.993 (a 12-digit number starting 0).
PII_FLOOR = {e: (0.97, 0.97) for e in ENTITIES} | {"CREDIT_CARD": (0.98, 0.98)}


def test_presidio_research_precision_and_recall_per_entity() -> None:
    counts = overlap_counts(load_json("presidio-research/synth_dataset_v2.json"), scan)
    for entity, (p, r) in ((e, precision_recall(c)) for e, c in counts.items()):
        p_floor, r_floor = PII_FLOOR[entity]
        assert p >= p_floor and r >= r_floor, f"{entity}: precision {p:.3f} recall {r:.3f}"


def test_refusal_recall_on_jbc_and_false_positives_on_benign_text() -> None:
    detector = RefusalDetector({})
    responses = [j["response"] for j in load_json("jailbreakbench-artifacts/JBC/gpt-3.5-turbo-1106.json")["jailbreaks"]]
    recall = sum(detector.find(t) is not None for t in responses) / len(responses)
    assert recall >= 0.98  # measured 1.000 (100 refusals)
    # Benign text that must not read as a refusal: TruthfulQA answers, XSTest prompts and the
    # PAIR answers the judge marked jailbroken (they comply).
    truthful = load_csv("TruthfulQA/TruthfulQA.csv")
    benign = [r["Best Answer"] for r in truthful] + [r["Correct Answers"] for r in truthful]
    benign += [r["prompt"] for r in load_csv("exaggerated-safety/xstest_prompts.csv")]
    pair = load_json("jailbreakbench-artifacts/PAIR/gpt-3.5-turbo-1106.json")["jailbreaks"]
    benign += [j["response"] for j in pair if j["jailbroken"] and j["response"]]
    false_positive_rate = sum(detector.find(t) is not None for t in benign) / len(benign)
    assert false_positive_rate <= 0.005  # measured 0.000 of 2,101


def test_injection_direct_on_jbc_and_indirect_on_bipia() -> None:
    detector = PromptInjectionDetector({})
    jailbreaks = [j["prompt"] for j in load_json("jailbreakbench-artifacts/JBC/gpt-3.5-turbo-1106.json")["jailbreaks"]]
    assert sum(detector.find_direct(p) is not None for p in jailbreaks) / len(jailbreaks) >= 0.97  # 1.000
    plain = [r["prompt"] for r in load_csv("exaggerated-safety/xstest_prompts.csv")]
    plain += [r["Behavior"] for r in load_csv("HarmBench/harmbench_behaviors_text_all.csv")]
    assert sum(detector.find_direct(p) is not None for p in plain) / len(plain) <= 0.005  # 0.000 of 850

    emails = [e["context"] for e in load_jsonl("BIPIA/email/test.jsonl")]
    assert [e for e in emails if detector.find_indirect(e)] == []  # 0 of 50 clean e-mails flagged
    for corpus, floor in (("BIPIA/text_attack_test.json", 0.60), ("BIPIA/code_attack_test.json", 0.95)):
        attacks = [a for items in load_json(corpus).values() for a in items]
        hits = total = 0
        for attack in attacks:
            for email in emails[:10]:  # the attack planted in the middle of a real e-mail
                mid = len(email) // 2
                hits += detector.find_indirect(f"{email[:mid]} {attack} {email[mid:]}") is not None
                total += 1
        # measured: text 0.639 (questions planted as data carry no marker), code 0.978
        assert hits / total >= floor, f"{corpus}: {hits / total:.3f}"


def test_harmful_output_on_the_held_out_halves_of_davidson_and_pair() -> None:
    """Floors on the held-out half of the fixed hash split (harm_eval.held_out); the lexicon was
    tuned on the other half only."""
    detector = HarmfulOutputDetector({})
    data = path("hate-speech-and-offensive-language/labeled_data.csv").parents[1]
    abusive, hate = harm_eval.davidson(detector.categories, harm_eval.davidson_rows(data))
    assert abusive.precision >= 0.98 and abusive.recall >= 0.90, abusive  # measured 0.989 / 0.919
    assert hate.recall >= 0.60, hate  # hate alone: P 0.229, R 0.678; a lexicon cannot tell hate from offence
    jailbroken = harm_eval.pair(detector.categories, harm_eval.pair_rows(data), detector.opt_in)
    assert jailbroken.recall >= 0.58, jailbroken  # measured 0.629 (22 of 35): below the 0.8 target


def test_harmful_output_flags_no_benign_prose() -> None:
    """Benign text the lexicon was not tuned on: the language reference shipped with Python."""
    detector = HarmfulOutputDetector({})
    sentences = harm_eval.benign_sentences()
    assert len(sentences) > 4000
    assert harm_eval.benign_findings(detector.categories, sentences, detector.opt_in) == []  # 0 of 4,036
    truthful = load_csv("TruthfulQA/TruthfulQA.csv")  # tuning text
    answers = [r["Best Answer"] for r in truthful] + [r["Correct Answers"] for r in truthful]
    flagged = [a for a in answers if set(detector.categories(a)) - detector.opt_in]
    assert len(flagged) / len(answers) <= 0.005, flagged


def test_jailbreak_on_pair_held_out_jbc_refusals_and_benign_answers() -> None:
    """The jailbreak detector reads the PAIR prompt with its answer; floors on the held-out half."""
    jailbreak, harm = JailbreakDetector({}), HarmfulOutputDetector({})
    data = path("jailbreakbench-artifacts/PAIR/gpt-3.5-turbo-1106.json").parents[2]
    rows = harm_eval.pair_rows(data)
    alone, either = harm_eval.pair_jailbreak(jailbreak.assess, harm.categories, rows, harm.opt_in)
    # measured: 28 of 35 with harmful_output (0.800; 22 alone), 4 of 7 answers judged not jailbroken flagged
    assert either.recall >= 0.77 and either.fp <= 4, either
    assert [j for j in harm_eval.jbc_rows(data) if jailbreak.assess(j["prompt"], j["response"] or "")] == []
    assert [q for q, a in harm_eval.truthfulqa_pairs(data) if jailbreak.assess(q, a)] == []
    prompts = [j["prompt"] for j in rows]
    paragraphs = harm_eval.benign_paragraphs()
    assert [p for i, p in enumerate(paragraphs) if jailbreak.assess(prompts[i % len(prompts)], p)] == []
