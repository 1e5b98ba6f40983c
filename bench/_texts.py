"""Distinct prompts and answers for the ingest benches, from public corpora (read in place).

The default bench call repeats one filler paragraph, so every call's texts are alike: a cache
keyed by text would serve nearly all of them, which real traffic would not allow. `corpus_texts`
composes each call's user text and answer from TruthfulQA's questions and answers (and, for
about a third of calls, a sentence of presidio-research's synthetic set, which carries names,
addresses, phone numbers and the like), so no two calls' texts are the same; the sizes are close
to the filler call's (~1 KB asked, ~0.6 KB answered).
"""

from __future__ import annotations

import csv
import json
import random
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@cache
def _corpora() -> tuple[list[str], list[str], list[str]]:
    questions: list[str] = []
    answers: list[str] = []
    with open(DATA / "TruthfulQA" / "TruthfulQA.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            questions.append(row["Question"].strip())
            answers.extend(a.strip().rstrip(".") + "." for a in row["Correct Answers"].split(";") if a.strip())
    with open(DATA / "presidio-research" / "synth_dataset_v2.json", encoding="utf-8") as f:
        personal = [" ".join(r["full_text"].split()) for r in json.load(f)]
    return questions, answers, personal


def _fill(rng: random.Random, pool: list[str], size: int) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        part = rng.choice(pool)
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)


def corpus_texts(rng: random.Random, personal_share: float = 0.3) -> tuple[str, str]:
    """(user text, answer) of one call, composed at random: distinct from every other call's."""
    questions, answers, personal = _corpora()
    user = _fill(rng, questions, 1000)
    if rng.random() < personal_share:
        user += " " + rng.choice(personal)
    return user, _fill(rng, answers, 600)
