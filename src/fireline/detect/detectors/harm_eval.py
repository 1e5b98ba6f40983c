"""How harmful_output is measured: a fixed hash split of the public corpora, and benign prose.

Split: a row belongs to the held-out half when the first byte of
sha256("<corpus>:<row key>") is odd (Davidson: the CSV's row number, first column; PAIR: the
`index` of the jailbreak). The lexicon was tuned only on the other half (and on benign text
other than the benign figure's: TruthfulQA answers, XSTest safe prompts, the docstrings of the
standard library); the figures docs/detectors.md reports come from the held-out half and from
CPython's `pydoc_data.topics`, which played no part in tuning.

`bench/detectors.py` prints these figures; tests/detect/test_corpora.py keeps floors under them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Categorize = Callable[[str], dict[str, Any]]
ABUSIVE = frozenset({"hate", "harassment"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def held_out(corpus: str, key: object) -> bool:
    """True for the held-out half (never tuned on), False for the tuning half."""
    return hashlib.sha256(f"{corpus}:{key}".encode()).digest()[0] % 2 == 1


@dataclass(frozen=True, slots=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)


def score(items: Iterable[tuple[bool, bool]]) -> Score:
    """(flagged, positive) pairs -> counts."""
    tp = fp = fn = 0
    for flagged, positive in items:
        tp += flagged and positive
        fp += flagged and not positive
        fn += positive and not flagged
    return Score(tp, fp, fn)


def davidson_rows(data: Path, split: str = "held_out") -> list[dict[str, str]]:
    with (data / "hate-speech-and-offensive-language" / "labeled_data.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    want = split == "held_out"
    return [r for r in rows if held_out("davidson", r[""]) == want]


def pair_rows(data: Path, split: str = "held_out") -> list[dict[str, Any]]:
    path = data / "jailbreakbench-artifacts" / "PAIR" / "gpt-3.5-turbo-1106.json"
    rows = json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]
    want = split == "held_out"
    return [j for j in rows if held_out("pair", j["index"]) == want and j["response"]]


def davidson(categorize: Categorize, rows: Sequence[dict[str, str]]) -> tuple[Score, Score]:
    """(hate or offensive vs neither, by hate/harassment findings; hate alone vs the rest, by
    hate findings)."""
    found = [(set(categorize(r["tweet"])), r["class"]) for r in rows]
    abusive = score((bool(ABUSIVE & cats), cls in ("0", "1")) for cats, cls in found)
    hate = score(("hate" in cats, cls == "0") for cats, cls in found)
    return abusive, hate


def pair(categorize: Categorize, rows: Sequence[dict[str, Any]], opt_in: Iterable[str] = ()) -> Score:
    """Answers the judge marked jailbroken, flagged by any default category."""
    skip = set(opt_in)
    return score((bool(set(categorize(j["response"])) - skip), bool(j["jailbroken"])) for j in rows)


def benign_sentences() -> list[str]:
    """CPython's pydoc_data.topics (the language reference as shipped with Python), split into
    paragraphs at blank lines and into sentences after . ! or ?; sentences of 3+ words."""
    from pydoc_data.topics import topics

    out = []
    for text in topics.values():
        for para in re.split(r"\n\s*\n", text):
            for sentence in _SENTENCE_END.split(" ".join(para.split())):
                if len(sentence.split()) >= 3:
                    out.append(sentence)
    return out


def benign_findings(categorize: Categorize, sentences: Sequence[str],
                    opt_in: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(category, sentence) for every default-category finding in benign sentences."""
    skip = set(opt_in)
    return [(c, s) for s in sentences for c in categorize(s) if c not in skip]


# The jailbreak detector (question and answer together). Splits as above, keyed by corpus:
# PAIR by `index`, XSTest by `id`, HarmBench by `BehaviorID`. JBC (100 template jailbreaks, all
# answered with refusals) and TruthfulQA are used whole: neither was tuned on for recall.
Assess = Callable[[str, str], Any]
EAGER_ANSWER = ("Sure, here are the steps:\n1. First, gather what you need.\n2. Then follow the process "
                "carefully and check each result before you go on.\n")


def pair_jailbreak(assess: Assess, categorize: Categorize, rows: Sequence[dict[str, Any]],
                   opt_in: Iterable[str] = ()) -> tuple[Score, Score]:
    """(jailbreak detector alone, jailbreak or harmful_output) on PAIR's prompt + answer pairs."""
    skip = set(opt_in)
    alone, either = [], []
    for j in rows:
        hit = assess(j["prompt"], j["response"]) is not None
        alone.append((hit, bool(j["jailbroken"])))
        either.append((hit or bool(set(categorize(j["response"])) - skip), bool(j["jailbroken"])))
    return score(alone), score(either)


def jbc_rows(data: Path) -> list[dict[str, Any]]:
    path = data / "jailbreakbench-artifacts" / "JBC" / "gpt-3.5-turbo-1106.json"
    return list(json.loads(path.read_text(encoding="utf-8"))["jailbreaks"])


def xstest_rows(data: Path, split: str = "held_out") -> list[dict[str, str]]:
    with (data / "exaggerated-safety" / "xstest_prompts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if held_out("xstest", r["id"]) == (split == "held_out")]


def harmbench_rows(data: Path, split: str = "held_out") -> list[dict[str, str]]:
    """HarmBench's standard and contextual behaviours (copyright ones ask for lyrics, not harm)."""
    with (data / "HarmBench" / "harmbench_behaviors_text_all.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["FunctionalCategory"] != "copyright"]
    return [r for r in rows if held_out("harmbench", r["BehaviorID"]) == (split == "held_out")]


def truthfulqa_pairs(data: Path) -> list[tuple[str, str]]:
    with (data / "TruthfulQA" / "TruthfulQA.csv").open(encoding="utf-8", newline="") as f:
        return [(r["Question"], f"{r['Best Answer']} {r['Correct Answers']}") for r in csv.DictReader(f)]


def benign_paragraphs() -> list[str]:
    """pydoc_data.topics paragraphs of 12+ words (answers the size of a chat reply)."""
    from pydoc_data.topics import topics

    return [p for text in topics.values() for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 12]
