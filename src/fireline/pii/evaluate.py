"""Scoring a PII detector against a labelled corpus, with the overlap rule of
../shared/peers/pii_scan.py (a predicted span counts when it overlaps a gold span of its type)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

ENTITIES = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "PHONE_NUMBER", "IP_ADDRESS")
Detect = Callable[[str], Iterable[tuple[str, int, int]]]


def overlap_counts(corpus: Iterable[dict[str, Any]], detect: Detect,
                   entities: Iterable[str] = ENTITIES) -> dict[str, tuple[int, int, int, int]]:
    """Per entity (matched predictions, predictions, matched gold spans, gold spans).
    Corpus items are presidio-research's: {"full_text", "spans": [{entity_type, start_position, end_position}]}."""
    out = {e: [0, 0, 0, 0] for e in entities}
    for doc in corpus:
        gold = [(s["entity_type"], s["start_position"], s["end_position"]) for s in doc["spans"]
                if s["entity_type"] in out]  # fmt: skip
        pred = [p for p in detect(doc["full_text"]) if p[0] in out]
        for t, s, e in pred:
            out[t][1] += 1
            out[t][0] += any(g[0] == t and g[1] < e and s < g[2] for g in gold)
        for t, s, e in gold:
            out[t][3] += 1
            out[t][2] += any(p[0] == t and p[1] < e and s < p[2] for p in pred)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def precision_recall(counts: tuple[int, int, int, int]) -> tuple[float, float]:
    tp_pred, pred, tp_gold, gold = counts
    return tp_pred / max(1, pred), tp_gold / max(1, gold)


def held_out(text: str) -> bool:
    """The fixed held-out split of a corpus: 30% of texts by SHA-256 of the text, never tuned on."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 10 < 3


def any_overlap(corpus: Iterable[dict[str, Any]], detect: Detect) -> dict[str, Any]:
    """Type-agnostic scoring of ../shared/peers/pii_any.py: a labelled span is redacted when any
    predicted span overlaps it; a predicted span is right when it overlaps any labelled span."""
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    pred = right = 0
    misses: list[tuple[str, str, str]] = []
    false: list[tuple[str, str, str]] = []
    for doc in corpus:
        text = doc["full_text"]
        spans = list(detect(text))
        for s in doc["spans"]:
            t, a, b = s["entity_type"], s["start_position"], s["end_position"]
            total[t] += 1
            if any(p[1] < b and a < p[2] for p in spans):
                hit[t] += 1
            else:
                misses.append((t, text[a:b], text))
        for p in spans:
            pred += 1
            ok = any(p[1] < s["end_position"] and s["start_position"] < p[2] for s in doc["spans"])
            right += ok
            if not ok:
                false.append((p[0], text[p[1] : p[2]], text))
    labelled = sum(total.values())
    return {"recall": sum(hit.values()) / max(1, labelled), "precision": right / pred if pred else 1.0,
            "labelled": labelled, "predicted": pred, "texts": None,
            "per_type": {t: (hit[t], total[t]) for t, _ in total.most_common()},
            "misses": misses, "false": false}
