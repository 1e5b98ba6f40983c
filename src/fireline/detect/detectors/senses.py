"""The harmful-output lexicon matcher: terms with their inflections, strengths and word senses.

One regex (google-re2, a DFA linear in the text; the CPython `re` trie as fallback) finds every
term form; then, in Python and only for the few hits: harmless senses (an allow-list of
phrases, scientific binomials), the person cue an ambiguous term needs, and the rule that weak
cues count only in pairs. See lexicon.py for the term syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - the wheel exists for the supported platforms
    re2 = None

from fireline.detect.detectors.base import trie_pattern
from fireline.detect.detectors.lexicon import (
    BRAND_REFERENCES,
    CONTEXT_CUES,
    DISPARAGING,
    HEDGES,
    PERSON_AFTER,
    PERSON_CUES,
    SENSES,
    VERB_OBJECTS,
)
from fireline.detect.policy_text import inflections

STRONG, WEAK, AMBIGUOUS = "strong", "weak", "ambiguous"
_PREFIX = {"~": WEAK, "@": AMBIGUOUS}
_WORD = re.compile(r"[a-z0-9']+")
# A Latin species epithet after a capitalised genus: "Homo sapiens", "Homo erectus".
_EPITHET = re.compile(r"\s+[a-z]{3,}(?:us|is|um|ens|ensis|ii|ae|oides|ica|ata|alis|icus)\b")
_ABUSIVE = frozenset({"hate", "harassment", "profanity"})


@dataclass(slots=True)
class CategoryHits:
    """What one category matched in a text: spans, and whether a strong term is among them."""

    spans: list[tuple[int, int]] = field(default_factory=list)
    strong: bool = False
    cues: set[str] = field(default_factory=set)  # distinct base terms


def _forms(term: str) -> set[str]:
    """The term with the inflections of its first and last word ("hack into" -> "hacked into")."""
    words = term.split()
    if len(words) == 1:
        return inflections(term)
    firsts = inflections(words[0]) if words[0].isalpha() else {words[0]}
    lasts = {f.split()[-1] for f in inflections(term)}
    return {" ".join([a, *words[1:-1], b]) for a in firsts for b in lasts}


def _compile(forms: Iterable[str]) -> Any:
    """One trie-shaped regex (the longest form wins at a position; a flat alternation of a few
    thousand forms is too big for RE2's DFA)."""
    items = sorted(set(forms))
    if not items:
        return None
    pattern = r"\b" + trie_pattern(items)
    if re2 is None:  # pragma: no cover
        return re.compile(pattern)
    options = re2.Options()
    options.max_mem = 64 << 20
    return re2.compile(pattern, options)


def _ends_word(low: str, end: int) -> bool:
    return end >= len(low) or not (low[end].isalnum() or low[end] == "_")


class Lexicon:
    """Every category's terms in one regex; each form names (category, strength, base term)."""

    def __init__(self, lexicon: Mapping[str, Iterable[str]], senses: Iterable[str] = SENSES,
                 brands: Iterable[str] = ()) -> None:
        self.forms: dict[str, tuple[str, str, str, bool]] = {}  # form -> (category, strength, base, prefix)
        for category, terms in lexicon.items():
            for raw in terms:
                strength = _PREFIX.get(raw[:1], STRONG)
                term = " ".join(raw.lstrip("~@").lower().split())
                if not term.strip("*"):
                    continue
                if term.endswith("*"):
                    self.forms[term.rstrip("*")] = (category, strength, term.rstrip("*"), True)
                    continue
                for form in _forms(term):
                    self.forms.setdefault(form, (category, strength, term, False))
        self._pattern = _compile(self.forms)
        self._senses = _compile(f for s in senses for f in _forms(" ".join(s.lower().split())))
        self._brands = _compile([*BRAND_REFERENCES, *(" ".join(b.lower().split()) for b in brands)])
        self._disparaging = _compile(DISPARAGING)
        self._context = _compile(CONTEXT_CUES)

    def _raw_hits(self, low: str) -> list[tuple[int, int, str, str, str]]:
        out = []
        for m in self._pattern.finditer(low):
            category, strength, base, prefix = self.forms[m.group()]
            end = m.end()
            if not _ends_word(low, end):
                if not prefix:
                    continue
                while not _ends_word(low, end):
                    end += 1
            out.append((m.start(), end, category, strength, base))
        return out

    def _harmless(self, text: str, low: str) -> list[tuple[int, int]]:
        if self._senses is None:
            return []
        return [(m.start(), m.end()) for m in self._senses.finditer(low) if _ends_word(low, m.end())]

    @staticmethod
    def _sense(text: str, low: str, start: int, end: int, category: str, strength: str) -> bool:
        """False for a harmless sense told by the words around the hit: a capitalised genus and
        a Latin epithet ("Homo sapiens"), a capitalised name after another ("David Lynch"), an
        insult used as a verb ("prick your finger"), a hedged danger ("would kill you")."""
        word = text[start:end]
        if word[:1].isupper() and word[1:].islower():
            if _EPITHET.match(text, end):
                return False
            prev = re.search(r"(\S+)\s+$", text[max(0, start - 30):start])
            if prev and prev.group(1)[:1].isupper() and prev.group(1).isalpha():
                return False
        if strength == AMBIGUOUS and " " not in word:
            nxt = _WORD.findall(low[end:end + 12])[:1]
            if nxt and nxt[0] in VERB_OBJECTS:
                return False
        if category == "violence":
            before = _WORD.findall(low[max(0, start - 40):start])[-3:]
            if any(w in HEDGES for w in before):
                return False
        return True

    @staticmethod
    def _aimed(low: str, start: int, end: int) -> bool:
        """A pointing or second-person word among the two words before the hit, or a word
        naming a person just after it."""
        before = _WORD.findall(low[max(0, start - 40):start])[-2:]
        after = _WORD.findall(low[end:end + 20])[:1]
        return any(w in PERSON_CUES for w in before) or any(w in PERSON_AFTER for w in after)

    def hits(self, text: str) -> dict[str, CategoryHits]:
        """Hits by category after word senses; weak-only categories need two different cues."""
        if self._pattern is None or not text:
            return {}
        low = text.lower()
        raw = self._raw_hits(low)
        if not raw:
            return {}
        harmless = self._harmless(text, low) if self._senses is not None else []
        kept = [h for h in raw if not any(s <= h[0] and h[1] <= e for s, e in harmless)
                and self._sense(text, low, *h[:4])]
        abusive = any(h[3] == STRONG and h[2] in _ABUSIVE for h in kept)
        out: dict[str, CategoryHits] = {}
        for start, end, category, strength, base in kept:
            if strength == AMBIGUOUS and not (abusive or self._aimed(low, start, end)):
                continue
            entry = out.setdefault(category, CategoryHits())
            entry.spans.append((start, end))
            entry.cues.add(base[:5])  # "fraud" and "fraudulent" are one cue
            entry.strong = entry.strong or strength != WEAK
        # Weak cues corroborate each other across categories (a blackmail letter: "exposed" and
        # "in exchange for my silence"); compliance framing makes one cue enough.
        weak = {cue for h in out.values() if not h.strong for cue in h.cues}
        enough = len(weak) >= 2 or (len(weak) == 1 and self._framed(low))
        return {c: h for c, h in out.items() if h.strong or (enough and h.cues)}

    def _framed(self, low: str) -> bool:
        """Compliance framing (a disclaimer, steps, not getting caught) anywhere in the answer."""
        return any(_ends_word(low, m.end()) for m in self._context.finditer(low))

    def disparagement(self, text: str, window: int = 60) -> list[tuple[int, int]]:
        """Spans where a disparaging word sits within `window` characters of a brand reference,
        in the same sentence."""
        if not text or self._brands is None:
            return []
        low = text.lower()
        brands = [(m.start(), m.end()) for m in self._brands.finditer(low) if _ends_word(low, m.end())]
        if not brands:
            return []
        spans = []
        for m in self._disparaging.finditer(low):
            if not _ends_word(low, m.end()):
                continue
            for bs, be in brands:
                lo, hi = (be, m.start()) if be <= m.start() else (m.end(), bs)
                if 0 <= hi - lo <= window and not re.search(r"[.!?\n]", low[lo:hi]):
                    spans.append((min(bs, m.start()), max(be, m.end())))
                    break
        return spans
