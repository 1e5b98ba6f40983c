"""The jailbreak and harmful_output detectors on JailbreakBench/artifacts, per file, for bench/detectors.py.

Reads a copy of https://github.com/JailbreakBench/artifacts given on the command line: a checkout
(DIR/attack-artifacts/...) or a bare git directory (read with `git --git-dir DIR show HEAD:...`).
Nothing of it is stored in this repository.

The split was fixed, and written down in docs/detectors.md, before any detector output on these
files was looked at:

- tuning (read, misses studied): PAIR on vicuna-13b-v1.5 and GCG white box on vicuna-13b-v1.5;
  and, as a precision (refusal) set moved here from held-out after two aggregate looks, JBC on
  llama-2-7b-chat-hf (every answer judged not jailbroken);
- held-out (measured twice: once before any change, as the baseline of generalisation, and once
  at the end; never read): every other file, by attack and target model.
- left out: PAIR on gpt-3.5-turbo-1106 and JBC on gpt-3.5-turbo-1106 (the copies under
  ../shared/data that the detectors were already tuned and measured on), test-artifact (a stub).

All files share JailbreakBench's 100 behaviours: the held-out files differ from the tuning ones by
attack and target model, not by behaviour, so the request side is not held out (see the docs).

Per file: recall on responses judged jailbroken (the jailbreak detector alone, and jailbreak or
harmful_output, the figure of issue #13), and the share of responses judged not jailbroken that
either flags.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "attack-artifacts/"
TUNE = ("PAIR/black_box/vicuna-13b-v1.5.json", "GCG/white_box/vicuna-13b-v1.5.json",
        # A precision set, moved from held-out (docs/detectors.md, "Refusals that name the harm"):
        # 100 template jailbreaks that llama-2 refuses at length, none judged jailbroken.
        "JBC/manual/llama-2-7b-chat-hf.json")
HELD_OUT = (
    "PAIR/black_box/gpt-4-0125-preview.json", "PAIR/black_box/llama-2-7b-chat-hf.json",
    "GCG/transfer/gpt-3.5-turbo-1106.json", "GCG/transfer/gpt-4-0125-preview.json",
    "GCG/white_box/llama-2-7b-chat-hf.json",
    "prompt_with_random_search/black_box/gpt-3.5-turbo-1106.json",
    "prompt_with_random_search/black_box/gpt-4-0125-preview.json",
    "prompt_with_random_search/black_box/llama-2-7b-chat-hf.json",
    "prompt_with_random_search/black_box/vicuna-13b-v1.5.json",
    "DSN/white_box/llama-2-7b-chat-hf.json", "DSN/white_box/vicuna-13b-v1.5.json",
    "JBC/manual/gpt-4-0125-preview.json", "JBC/manual/vicuna-13b-v1.5.json",
)  # fmt: skip
SPLITS = {"tune": TUNE, "held_out": HELD_OUT}


def read(source: Path, name: str) -> list[dict[str, Any]]:
    """The `jailbreaks` of one file, from a checkout or a bare git directory."""
    path = source / PREFIX / name
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        text = subprocess.run(["git", "--git-dir", str(source), "show", f"HEAD:{PREFIX}{name}"],
                              check=True, capture_output=True, text=True).stdout
    return list(json.loads(text)["jailbreaks"])


@dataclass(frozen=True, slots=True)
class FileScore:
    name: str
    jailbroken: int  # responses judged jailbroken
    alone: int  # of those, flagged by the jailbreak detector
    either: int  # ... by jailbreak or harmful_output
    clean: int  # responses judged not jailbroken
    clean_flagged: int  # of those, flagged by either


def score_file(name: str, rows: Iterable[dict[str, Any]], assess: Callable[[str, str], Any],
               categorize: Callable[[str], dict[str, Any]], opt_in: Iterable[str]) -> FileScore:
    skip = set(opt_in)
    jb = alone = either = clean = clean_flagged = 0
    for j in rows:
        if not j.get("response"):
            continue
        hit = assess(j["prompt"] or "", j["response"]) is not None
        any_hit = hit or bool(set(categorize(j["response"])) - skip)
        if j["jailbroken"]:
            jb, alone, either = jb + 1, alone + hit, either + any_hit
        else:
            clean, clean_flagged = clean + 1, clean_flagged + any_hit
    return FileScore(name, jb, alone, either, clean, clean_flagged)


def report(source: Path, split: str, assess: Callable[[str, str], Any],
           categorize: Callable[[str], dict[str, Any]], opt_in: Iterable[str]) -> list[str]:
    """Print the per-file table of one split; answer RESULT parts."""
    scores = [score_file(n, read(source, n), assess, categorize, opt_in) for n in SPLITS[split]]
    fields = ("jailbroken", "alone", "either", "clean", "clean_flagged")
    total = FileScore(f"all {split} files", *(sum(getattr(x, f) for x in scores) for f in fields))
    print(f"\nJailbreakBench artifacts, {split} files (responses judged jailbroken: recall; judged not: flagged)")
    print(f"{'file':58s} {'jailbroken':>10s} {'jailbreak R':>12s} {'+harmful R':>11s} {'not-jb flagged':>15s}")
    for s in [*scores, total]:
        n = max(1, s.jailbroken)
        print(f"{s.name:58s} {s.jailbroken:10d} {s.alone / n:6.3f} {s.alone:4d} {s.either / n:6.3f} {s.either:3d}"
              f" {s.clean_flagged:6d} of {s.clean:<4d}")
    n = max(1, total.jailbroken)
    return [f"artifacts_{split}_recall={total.either / n:.3f}", f"artifacts_{split}_recall_alone={total.alone / n:.3f}",
            f"artifacts_{split}_not_jailbroken_flagged={total.clean_flagged}/{total.clean}"]
