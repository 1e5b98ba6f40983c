"""Where an answer refuses, and the warnings around a refusal: spans the harm lexicon does not read.

A model that refuses names what it refuses ("I cannot provide instructions on making a bomb") and
often warns about it ("Identity theft is a serious crime that can have severe consequences"). A
lexicon that reads those words as harmful content flags, and at 0.95 blocks, the refusal itself.

So, only in an answer that refuses somewhere (not only in its opening: a refusal phrase anywhere):

- a refusing span runs from a refusal phrase ("I cannot fulfill your request", "I apologize, but
  I cannot", "As a responsible AI", "it is not appropriate to") to the end of its sentence, or to
  a turn in that sentence ("but", "however", "instead", "here is"), after which the answer may go
  along after all;
- a warning sentence is one that condemns or warns ("is illegal and unethical", "is a serious
  crime", "can cause harm", "should not be", "seek help").

Harm terms inside those spans are not harmful content, and compliance framing inside them ("is
illegal and unethical" is also a disclaimer written before complying) does not count. What the
answer says outside them is read as before: a short disclaimer followed by the content is still
found by the content. An answer that never refuses is read as before, warnings and all.
"""

from __future__ import annotations

import re

from fireline.detect.detectors.refusal import DEFAULT_PHRASES

# Refusal phrases beyond refusal.py's (which must start an answer's first 400 characters there):
# the self-descriptions and verdicts a model refuses with.
_MORE_REFUSALS = (
    r"\bas an? (?:responsible|ethical|helpful|honest)(?: and (?:responsible|ethical|helpful|honest))?"
    r" (?:ai|assistant|language model)\b",
    r"\bit (?:is|would be) not (?:appropriate|ethical|responsible|acceptable) (?:for me )?to\b",
    r"\bi (?:must|have to|need to|would) (?:strongly )?(?:advise|caution|warn) (?:you )?against\b",
    r"\bi (?:strongly )?(?:discourage|advise against)\b",
)
# refusal.py's "As an AI ..., I" marks an opening; here it would take "As an AI language model, I can
# certainly provide ..." for a refusal. Its refusing form, "As an AI, I cannot ...", is caught by "I cannot".
_PHRASES = tuple(p for p in DEFAULT_PHRASES if not p.startswith(r"\bAs an AI"))
REFUSING = re.compile("|".join(f"(?:{p})" for p in (*_PHRASES, *_MORE_REFUSALS)).lower())
# Every phrase starts at one of these words: trying the phrases only there is several times faster
# than searching with their alternation (as in refusal.py).
_ANCHOR = re.compile(r"\b(?:i[ '\u2019]|sorry|apolog|unfortunately|(?:this|that|your) request|against|as an? |it )")


def refusals(low: str) -> list[tuple[int, int]]:
    """(start, end) of each refusal phrase in a lower-cased text."""
    out: list[tuple[int, int]] = []
    for a in _ANCHOR.finditer(low):
        if out and a.start() < out[-1][1]:
            continue
        m = REFUSING.match(low, a.start())
        if m is not None:
            out.append((m.start(), m.end()))
    return out
# A turn inside the refusing sentence: what follows may go along after all.
_TURN = re.compile(r"(?:,|;|:|\s)\s*(?:but|however|instead|although|though|yet|that said)\b|\bhere(?:'s| is| are)\b")
# Condemnation and warning: a sentence that says the thing is wrong, unlawful or dangerous.
WARNING = re.compile(
    r"\b(?:illegal|unlawful|unethical|immoral|reprehensible|unacceptable|inappropriate|prohibited|"
    r"punishable|(?:a |serious )?crimes?\b|criminal (?:offen[cs]es?|act|activit)|"
    r"harmful|dangerous|unsafe|"
    r"(?:can|could|may|will) (?:cause|harm|hurt|damage|lead to|result in|have (?:serious|severe))|"
    r"consequences|violat(?:e|es|ing|ion)|against the law|is (?:never|not) (?:acceptable|okay|ok|the answer)|"
    r"(?:should|must) (?:never|not) be|seek (?:professional )?help|crisis (?:hotline|line)|"
    r"mental health professional|refrain from|i (?:strongly )?(?:urge|encourage) you)"
)
# What ends a warning early: the answer turns to the content ("..., but here is how: 1. ...",
# "However, I can provide ... without violating any laws").
_COMPLY = re.compile(r"\bhere(?:'s| is| are)\b|:\s|\bstep (?:\d|one)\b"
                     r"|\b(?:however|but|instead|that said),? (?:i|we) (?:can|could|will|would)\b")
# A sentence ends at . ! ? followed by space (not after one capital letter: "U.S. law") or a newline.
_SENTENCE = re.compile(r"(?<![A-Z])(?<!\b[a-z])[.!?]+(?=\s)|\n")


def sentences(low: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a text."""
    spans, start = [], 0
    for m in _SENTENCE.finditer(low):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(low):
        spans.append((start, len(low)))
    return spans


def unread_spans(low: str) -> list[tuple[int, int]]:
    """Refusing spans and warning sentences of a lower-cased answer that refuses somewhere; [] for
    an answer that does not refuse."""
    found = refusals(low)
    if not found:
        return []
    out = []
    for start, end in sentences(low):
        if WARNING.search(low, start, end) is not None:
            comply = _COMPLY.search(low, start, end)
            out.append((start, comply.start() if comply is not None else end))
            continue
        for rs, re_ in found:
            if start <= rs < end:
                turn = _TURN.search(low, re_, end)
                out.append((rs, turn.start() if turn is not None else end))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
