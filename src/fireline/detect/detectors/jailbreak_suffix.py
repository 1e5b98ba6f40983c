"""An adversarial suffix after the ask, and an answer that restates the ask: the structure of the
optimisation attacks (GCG, DSN, random search), for the jailbreak detector (jailbreak.py).

These attacks append tokens optimised to make the model begin "Sure, here is <the request>": a
request of one line whose tail is machine-made (words glued across a change of case,
"similarlyNow", "PortugORizedalement"; runs of brackets, backslashes and quotes, `]( \\{(`; lower-case
words that are no English word, "bere", "listey"), followed by an answer that opens by restating the
request's words in order and does not take the tail up. A person does not type such a tail, and a
model that answers code or a pasted line does not open by restating six words of it in a row while
leaving the odd tokens out. The harm need not be named: the suffix is the attempt.
"""

from __future__ import annotations

import re

from fireline.pii import gazetteer

_TOKEN = re.compile(r"\S+")
_SYMBOL = re.compile(r"[\[\]{}\\<>|=^~@$#*_`]")
_GLUED = re.compile(r"[a-z]{2,}[A-Z]|[A-Z]{2,}[a-z]{2,}|[a-z][A-Z]{2,}")
_STRIP = ".,;:!?\"'()-"
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
TAIL_TOKENS = 16  # the tail read for the suffix
MIN_ODD = 3  # odd tokens in it
MIN_TOKENS = 10  # a request shorter than this has no room for an ask and a suffix
RESTATED = 6  # consecutive words of the request the answer's opening repeats


def odd(token: str) -> bool:
    """A token no person types in an English request: symbols inside it, a glued change of case, or
    a lower-case word that is no English word (a capitalised one may be a name)."""
    if _SYMBOL.search(token) or _GLUED.search(token):
        return True
    core = token.strip(_STRIP)
    if not core:
        return len(token) > 1  # "...." or "!!" alone is punctuation; ")." is not odd either way
    return core.isalpha() and core.islower() and gazetteer.get().words.get(core, 0) == 0


def suffix_tokens(request: str) -> list[str]:
    """The odd tokens of a one-line request's tail when there are enough to be a suffix, else []."""
    text = request.strip()
    if "\n" in text:
        return []
    tokens = _TOKEN.findall(text[-400:])[-TAIL_TOKENS:]
    if len(tokens) < MIN_TOKENS:
        return []
    found = [t for t in tokens if odd(t)]
    return found if len(found) >= MIN_ODD else []


def restates(request: str, answer: str, tail: list[str]) -> bool:
    """The answer's opening repeats RESTATED consecutive words of the request and at most half of
    the suffix's odd tokens (a model echoing everything it was given is not restating an ask)."""
    head = answer[:400].lower()
    words = _WORDS.findall(request.lower())
    grams = {tuple(words[i : i + RESTATED]) for i in range(len(words) - RESTATED + 1)}
    said = _WORDS.findall(head)
    if not any(tuple(said[i : i + RESTATED]) in grams for i in range(len(said) - RESTATED + 1)):
        return False
    echoed = sum(1 for t in tail if len(t.strip(_STRIP)) > 2 and t.strip(_STRIP).lower() in head)
    return echoed * 2 <= len(tail)
