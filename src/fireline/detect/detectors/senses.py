"""The harmful-output lexicon matcher: terms with their inflections, strengths and word senses.

One regex (google-re2, a DFA linear in the text; CPython `re` as fallback) finds the base terms
with room for their inflections, and each match is checked against the exact forms; then, in
Python and only for the few hits: harmless senses (an allow-list of phrases searched near the
hits, binomials, names, insults as verbs, hedged dangers), the person cue an ambiguous term
needs, and the rule that weak cues count only in pairs or beside compliance framing. See
lexicon.py for the term syntax and docs/detectors.md for the measured figures.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    import re2
except ImportError:  # pragma: no cover - the wheel exists for the supported platforms
    re2 = None

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
from fireline.detect.detectors.refusal_context import unread_spans
from fireline.detect.policy_text import inflections
from fireline.patterns import matches

STRONG, WEAK, AMBIGUOUS = "strong", "weak", "ambiguous"
_PREFIX = {"~": WEAK, "@": AMBIGUOUS}
_WORD = re.compile(r"[a-z0-9']+")
# A Latin species epithet after a capitalised genus: "Homo sapiens", "Homo erectus".
_EPITHET = re.compile(r"\s+[a-z]{3,}(?:us|is|um|ens|ensis|ii|ae|oides|ica|ata|alis|icus)\b")
_ABUSIVE = frozenset({"hate", "harassment", "profanity"})
# Role-play and fiction framing, the device of most jailbreaks: the answer speaks as someone ("As a
# security consultant, I ..."), writes a scene ("INT. WORKSHOP - DAY", "Chapter 10:", "the
# protagonist").
_ROLE_PLAY = (r"(?:^|[.!?:\n]\s*)as an? (?:[a-z-]+ ){0,2}[a-z-]*(?:er|or|ist|ian|ant|ent|expert|agent|officer|"
              r"analyst|professional|writer|author), (?:i|my|we|our)\b"
              r"|(?:^|\n)\s*(?:int|ext)\. |\bchapter \d+\b|\bthe protagonist\b|\bthe main character\b"
              r"|\bin (?:the|this|my|your) (?:story|novel|screenplay|fictional)\b")
# A letter template's placeholder, capitalised ("[Recipient]", "[Your Name]"; not code's "[int]").
_PLACEHOLDER = r"\[[A-Z][a-z]+(?: [A-Z]?[a-z]+){0,3}\]"


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the spans replaced by spaces (offsets kept): framing there does not count."""
    parts, at = [], 0
    for s, e in spans:
        parts += [text[at:s], " " * (e - s)]
        at = e
    return "".join([*parts, text[at:]])


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


def _word_regex(word: str) -> str:
    """A word and room for its inflections; a final "e" or "y" may change ("forging", "bullies")."""
    if not word[-1:].isalpha():
        return re.escape(word)
    if word[-1] in "ey" and len(word) > 2:
        return re.escape(word[:-1]) + "[a-z']{0,5}"
    return re.escape(word) + "[a-z']{0,4}"


class Terms:
    """Terms found in lowercased text by one RE2 regex over the base terms with room for their
    inflections, each match then checked against the exact forms in a dict (a few hundred
    alternatives keep RE2's DFA small: the ~16,000 enumerated forms made it 5x slower)."""

    def __init__(self, terms: Mapping[str, Any]) -> None:
        self.forms: dict[str, Any] = {}  # exact form -> value
        self.stems: dict[str, Any] = {}  # "stem*" terms: any word ending
        alternatives = []
        for term, value in terms.items():
            if term.endswith("*"):
                stem = term.rstrip("*")
                self.stems.setdefault(stem, value)
                alternatives.append((len(stem), re.escape(stem) + r"\w*"))
                continue
            for form in _forms(term):
                self.forms.setdefault(form, value)
            alternatives.append((len(term), r"\s+".join(_word_regex(w) for w in term.split())))
        self._pattern: Any = None
        if alternatives:
            # Longest first: RE2's alternation is leftmost-first, so "kill yourself" beats "kill you".
            body = "|".join(a for _, a in sorted(alternatives, key=lambda a: -a[0]))
            pattern = r"\b(?:" + body + r")(?![\w'])"
            if re2 is None:  # pragma: no cover
                self._pattern = re.compile(pattern)
            else:
                options = re2.Options()
                options.max_mem = 32 << 20
                self._pattern = re2.compile(pattern.replace(r"(?![\w'])", r"\b"), options)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def find(self, low: str) -> Iterator[tuple[int, int, Any]]:
        """(start, end, value) of each exact form (or stem word) in lowercased text."""
        if self._pattern is None:
            return
        for hit, start, end in matches(self._pattern, low):
            key = " ".join(hit.split())
            if key in self.forms:
                yield start, end, self.forms[key]
            elif self.stems:
                for k in range(len(hit), 0, -1):
                    if hit[:k] in self.stems:
                        yield start, end, self.stems[hit[:k]]
                        break


@functools.lru_cache(maxsize=32)
def _terms(items: tuple[tuple[str, Any], ...]) -> Terms:
    return Terms(dict(items))


def terms_of(terms: Mapping[str, Any]) -> Terms:
    """The same Terms for the same terms: a Terms is read-only once built, and building the shipped
    lexicon (forms and one RE2 program) costs about 50 ms, paid once per process, not per app."""
    return _terms(tuple(terms.items()))


class Lexicon:
    """Every category's terms in one regex; each form names (category, strength, base term)."""

    def __init__(self, lexicon: Mapping[str, Iterable[str]], senses: Iterable[str] = SENSES,
                 brands: Iterable[str] = ()) -> None:
        entries: dict[str, tuple[str, str, str]] = {}  # term -> (category, strength, base)
        for category, terms in lexicon.items():
            for raw in terms:
                strength = _PREFIX.get(raw[:1], STRONG)
                term = " ".join(raw.lstrip("~@").lower().split())
                if term.strip("*"):
                    entries.setdefault(term, (category, strength, term.rstrip("*")))
        self.terms = terms_of(entries)
        self._senses = terms_of({" ".join(t.lower().split()): None for t in senses})
        self._brands = terms_of({" ".join(t.lower().split()): None for t in [*BRAND_REFERENCES, *brands]})
        self._disparaging = terms_of(dict.fromkeys(DISPARAGING))
        self._context = terms_of(dict.fromkeys(CONTEXT_CUES))
        self._role_play = re2.compile(_ROLE_PLAY) if re2 is not None else re.compile(_ROLE_PLAY)
        self._placeholder = re2.compile(_PLACEHOLDER) if re2 is not None else re.compile(_PLACEHOLDER)

    def _raw_hits(self, low: str) -> list[tuple[int, int, str, str, str]]:
        return [(s, e, *v) for s, e, v in self.terms.find(low)]

    def _harmless(self, low: str, raw: list[tuple[int, int, str, str, str]]) -> list[tuple[int, int]]:
        """Harmless-sense phrases around the hits (searched only within 40 characters of one)."""
        windows: list[list[int]] = []
        for start, end, *_ in raw:
            lo, hi = max(0, start - 40), min(len(low), end + 40)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            else:
                windows.append([lo, hi])
        return [(lo + s, lo + e) for lo, hi in windows for s, e, _ in self._senses.find(low[lo:hi])]

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
        if not self.terms or not text:
            return {}
        low = text.lower()
        raw = self._raw_hits(low)
        if not raw:
            return {}
        harmless = self._harmless(low, raw)
        kept = [h for h in raw if not any(s <= h[0] and h[1] <= e for s, e in harmless)
                and self._sense(text, low, *h[:4])]
        # A refusal that names what it refuses, and the warning around it, is not harmful content
        # (refusal_context.py); read only when a term was found, so ordinary text pays nothing.
        unread = unread_spans(low) if kept else []
        if unread:
            kept = [h for h in kept if not any(s <= h[0] and h[1] <= e for s, e in unread)]
            text, low = _blank(text, unread), _blank(low, unread)
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
        enough = len(weak) >= 2 or (len(weak) == 1 and self._framed(text, low))
        return {c: h for c, h in out.items() if h.strong or (enough and h.cues)}

    def _framed(self, text: str, low: str) -> bool:
        """Compliance framing (a disclaimer, steps, not getting caught, role-play) in the answer."""
        return (next(self._context.find(low), None) is not None or self._role_play.search(low) is not None
                or self._placeholder.search(text) is not None)

    def disparagement(self, text: str, window: int = 60) -> list[tuple[int, int]]:
        """Spans where a disparaging word sits within `window` characters of a brand reference,
        in the same sentence."""
        if not text:
            return []
        low = text.lower()
        brands = [(s, e) for s, e, _ in self._brands.find(low)]
        if not brands:
            return []
        spans = []
        for start, end, _ in self._disparaging.find(low):
            for bs, be in brands:
                lo, hi = (be, start) if be <= start else (end, bs)
                if 0 <= hi - lo <= window and not re.search(r"[.!?\n]", low[lo:hi]):
                    spans.append((min(bs, start), max(be, end)))
                    break
        return spans
