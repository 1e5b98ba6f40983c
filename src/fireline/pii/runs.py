"""The reader of a run of capitalised words: a person, a place, an organisation, a nationality or a
title, or nothing, from the gazetteer, the closed lists and the words around the run."""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from fireline.pii import gazetteer
from fireline.pii.capwords import (
    _FEATURES,
    _LANGUAGE_CUES,
    _LOC_PREPS,
    _PERSON_CUES_BEFORE,
    _PERSON_VERBS_AFTER,
    _STREET_ABBREVIATIONS,
    _TECH_WORDS,
    _WORDS,
    COMMON,
    LOCATION,
    NRP_TYPE,
    ORGANIZATION,
    PERSON,
    TITLE,
    Span,
    _end,
    _line_start,
    _next_word,
    _nrp,
    _prev_word,
    _sentence_initial,
    _word_facts,
    prev_char,
)
from fireline.pii.lexicon import LEGAL_FORMS, MONTHS, ORG_SUFFIXES, STOP_CAPS, TITLES, WEEKDAYS

# A lone capitalised word's answer that needs its neighbours: `_single_kind`, or for an upper-case
# word unknown to English, whether a place preposition comes before it.
_AROUND = "(around)"
_AROUND_UPPER = "(around, upper case)"
_LONE: dict[str, tuple[str | None, str]] = {}


# Compiled (fireline.native), and still open to subclasses in Python: the tests' plain reader.
@mypyc_attr(allow_interpreted_subclasses=True)
class _Reader:
    __slots__ = ("_technical", "g", "low", "out", "text")

    def __init__(self, text: str, out: list[Span], low: str | None = None) -> None:
        self.g = gazetteer.get()
        self.text = text
        self.low = low  # text.lower(), when the caller has it
        self.out = out
        self._technical: bool | None = None

    def common(self, b: str) -> bool:
        return self.g.words.get(b, 0) >= COMMON or b in self.g.foreign_common

    def _features(self, w: str) -> tuple[bool, bool, bool, bool, bool]:
        """(frequent word, given name, surname, place, nationality) of a lower-case word, cached."""
        g = self.g
        f = (self.common(w), w in g.given, w in g.surname, len(w) > 2 and w in g.place, _nrp(w))
        if w in g.words:  # English vocabulary only: words a user typed that English lacks are not kept
            if len(_FEATURES) > 100_000:
                _FEATURES.clear()
            _FEATURES[w] = f
        return f

    def technical(self) -> bool:
        """Whether the text reads as technical (two or more software words): cached per scan."""
        if self._technical is None:
            low = self.text.lower() if self.low is None else self.low
            self._technical = sum(1 for w in _TECH_WORDS if w in low) >= 2
        return self._technical

    def known(self, b: str) -> bool:
        """An English word, or an inflection or compound of English words ("metaclasses", "built-in")."""
        w = self.g.words
        if b in w or b in self.g.foreign or b in self.g.foreign_common:
            return True
        if "'" in b or "’" in b:
            head, _, tail = b.replace("’", "'").partition("'")
            if len(tail) <= 3 and head not in ("o", "d", "l"):
                return True  # you're, c'mon, don't; not O'Brien, D'Souza, L'Oréal
        if "-" in b:
            return all(p in w or not p for p in b.split("-"))
        for suffix in ("s", "es", "ed", "d", "ing", "ings", "er", "ers", "ly"):
            if b.endswith(suffix) and b[: -len(suffix)] in w:
                return True
        return False

    def run(self, run: list[tuple[str, int, int]]) -> None:
        g = self.g
        text = self.text
        n = len(run)
        if n == 1:
            self._word(*run[0])
            return
        facts = _WORDS
        toks = [(tok, s, e, (facts.get(tok) or _word_facts(tok))[0]) for tok, s, e in run]
        i = 0
        # An organisation: the run ends with a legal form ("Civic Impulse LLC"), or with a sector
        # word after a word English does not know ("Infocommerce Group", not "Text Services").
        last = toks[-1][3]
        if n >= 2 and (last in LEGAL_FORMS or last.rstrip(".") in LEGAL_FORMS
                       or (last in ORG_SUFFIXES and any(not self.known(t[3]) for t in toks[:-1]))):
            first = 0
            while first < n - 1 and toks[first][3] in STOP_CAPS:
                first += 1
            if first < n - 1:
                self.out.append((ORGANIZATION, toks[first][1], _end(text, toks[-1])))
                return
        while i < n:
            tok, s, e, b = toks[i]
            # The longest multi-word place starting here ("New Zealand", "Buenos Aires").
            if len(b) > 1 and b in g.place_heads:
                k = self._place_len(toks, i)
                if k:
                    self.out.append((LOCATION, s, _end(text, toks[i + k - 1])))
                    i += k
                    continue
            _, code, upper = facts.get(tok) or _word_facts(tok)
            if b in STOP_CAPS or code or len(b) < 2 and not (tok.endswith(".") or i + 1 < n):
                i += 1
                continue
            if upper:
                # Acronyms (API, ATM, CEO) are not names; an upper-case word may still be a place.
                if (len(b) > 4 and b in g.place and not self.common(b)) or (
                    len(b) >= 5 and not self.known(b) and _prev_word(text, s) in _LOC_PREPS
                ):
                    self.out.append((LOCATION, s, _end(text, toks[i])))
                i += 1
                continue
            # A title and the name it introduces.
            if b in TITLES and i + 1 < n and (tok.endswith(".") or b not in ("m", "fr", "sr")):
                self.out.append((TITLE, s, e if tok.endswith(".") else e))
                j = i + 1
                while j < n and toks[j][3] not in STOP_CAPS and not (
                    facts.get(toks[j][0]) or _word_facts(toks[j][0])
                )[1]:
                    j += 1
                if j > i + 1:
                    self.out.append((PERSON, toks[i + 1][1], _end(text, toks[j - 1])))
                i = j
                continue
            # A person: consecutive name-like words around at least one good name.
            j, kind = self._name_extent(toks, i)
            if kind:
                self.out.append((kind, s, _end(text, toks[j - 1])))
                i = j
                continue
            i += 1

    def _word(self, tok: str, s: int, e: int) -> None:
        """`run` for a run of one word (most runs): the same rules without the lists a run of
        several words needs, reading the words around it only when a rule asks them."""
        hit = _LONE.get(tok) or self._lone(tok)
        kind = hit[0]
        if kind is None:
            return
        text = self.text
        if kind == _AROUND:
            kind = self._single_kind(tok, s, e, hit[1])
        elif kind == _AROUND_UPPER:
            kind = LOCATION if _prev_word(text, s) in _LOC_PREPS else None
        if kind:
            self.out.append((kind, s, _end(text, (tok, s, e))))

    def _lone(self, tok: str) -> tuple[str | None, str]:
        """What a word alone in its run is whatever the words around it (an entity kind, or None for
        none), or _AROUND / _AROUND_UPPER when they decide, and its base. Cached for English words."""
        g = self.g
        b, code, upper = _WORDS.get(tok) or _word_facts(tok)
        kind: str | None = _AROUND
        # A place of one word needs no look-ahead: `_place_len` finds none in a run of one.
        if b in STOP_CAPS or code or len(b) < 2 and not tok.endswith("."):
            kind = None
        elif upper:
            # Acronyms (API, ATM, CEO) are not names; an upper-case word may still be a place.
            if len(b) > 4 and b in g.place and not self.common(b):
                kind = LOCATION
            else:
                kind = _AROUND_UPPER if len(b) >= 5 and not self.known(b) else None
        else:
            # `_single_kind`'s first rules, which read no neighbour.
            common, given, _, place, nrp = _FEATURES.get(b) or self._features(b)
            if not nrp and (b in MONTHS or b in WEEKDAYS):
                kind = None
            elif not nrp and place and not common and not given:
                kind = LOCATION
        hit = (kind, b)
        if b in g.words:  # English vocabulary only, as `_WORDS`
            if len(_LONE) > 50_000:
                _LONE.clear()
            _LONE[tok] = hit
        return hit

    def _single_kind(self, tok: str, s: int, e: int, b: str) -> str | None:
        """`_name_extent`'s answer for a word alone in its run (a title alone is read here too). The
        words around it are read only when a rule asks them: most words ask neither."""
        text = self.text
        common, given, sur, place, nrp = _FEATURES.get(b) or self._features(b)
        if nrp:
            # "into Spanish", "studying English": a language, not a nationality.
            return None if _prev_word(text, s) in _LANGUAGE_CUES else NRP_TYPE
        if b in MONTHS or b in WEEKDAYS:
            return None
        if place and not common and not given:
            return LOCATION
        initial = _sentence_initial(text, s)
        prev: str | None = None
        nxt: str | None = None
        if place and not initial and b not in TITLES:
            prev = _prev_word(text, s)
            if prev in _LOC_PREPS or (prev_char(text, s) == "," and not common):
                return LOCATION  # "in Lyon", "Lyon, France": a place, though also a name
        if b in _STREET_ABBREVIATIONS:
            return None
        # A speaker in a transcript ("Ella: What a wife."), even one whose name no list knows ("Ubul: ..."),
        # and a name called out ("Don't go, Mark!").
        if _line_start(text, s):
            nxt = _next_word(text, _end(text, (tok, s, e)))
            if nxt == ":" and ((not self.known(b) and len(b) >= 3) or (given and b not in STOP_CAPS and not common)):
                return PERSON
        if given and b not in STOP_CAPS and prev_char(text, s) == ",":
            if nxt is None:
                nxt = _next_word(text, _end(text, (tok, s, e)))
            if nxt in ("!", "?"):
                return PERSON
        if (given or sur) and not common:
            if not initial:
                return PERSON
            if nxt is None:
                nxt = _next_word(text, _end(text, (tok, s, e)))
            if prev is None:
                prev = _prev_word(text, s)
            if nxt in _PERSON_VERBS_AFTER or prev in _PERSON_CUES_BEFORE:
                return PERSON
            return None if self.g.words.get(b, 0) >= 9 else PERSON
        if not self.known(b) and len(b) >= 3:
            proper = not initial
            if initial:
                if nxt is None:
                    nxt = _next_word(text, _end(text, (tok, s, e)))
                proper = self._proper_at_start(b, nxt)
            if proper:
                # A capitalised word English does not know, mid-sentence: a proper noun.
                if prev is None:
                    prev = _prev_word(text, s)
                if prev in _LOC_PREPS:
                    return LOCATION
                if prev in _PERSON_CUES_BEFORE:
                    return PERSON
                if nxt is None:
                    nxt = _next_word(text, _end(text, (tok, s, e)))
                if nxt in _PERSON_VERBS_AFTER:
                    return PERSON
                # In technical text an unknown capitalised word is mostly a product (Nginx, Kubernetes).
                return None if self.technical() else ORGANIZATION
        if place and not common:
            return LOCATION
        return None

    def _proper_at_start(self, b: str, nxt: str) -> bool:
        """An unknown capitalised word opening a sentence is a proper noun when a verb or a
        conjunction follows it ("Shovda is reliable", "Nekolná and Pearson"), not a heading."""
        if self._compound(b):
            return False  # "Bitwise", "Formfeed": English words run together, at a sentence start
        return nxt in _PERSON_VERBS_AFTER or nxt in ("and", "or", ",")

    def _compound(self, b: str) -> bool:
        w = self.g.words
        return any(w.get(b[:k], 0) >= 10 and (w.get(b[k:], 0) >= 10 or self.known(b[k:]))
                   for k in range(3, len(b) - 2))

    def _place_len(self, toks: list[tuple[str, int, int, str]], i: int) -> int:
        g = self.g
        best = 0
        words = [toks[i][3]]
        for k in range(1, min(5, len(toks) - i)):
            words.append(toks[i + k][3])
            if " ".join(words) in g.place:
                best = k + 1
        return best

    def _name_extent(self, toks: list[tuple[str, int, int, str]], i: int) -> tuple[int, str | None]:
        text = self.text
        tok, s, e, b = toks[i]
        n = len(toks)
        # Extend over name-like words: not stop words, not code, not places alone.
        j = i + 1
        while j < n:
            t2, _, _, b2 = toks[j]
            if b2 in STOP_CAPS or b2 in ORG_SUFFIXES:
                break
            _, code, upper = _WORDS.get(t2) or _word_facts(t2)
            if code or (upper and len(t2) > 2):
                break
            j += 1
        if j - i == 1:
            return j, self._single_kind(tok, s, e, b)
        initial = _sentence_initial(text, s)
        span_words = [t[3] for t in toks[i:j]]
        feats = [_FEATURES.get(w) or self._features(w) for w in span_words]
        common, given, sur, place, nrp = zip(*feats, strict=True)
        # Two or more capitalised words in a row.
        if nrp[0]:
            return i + 1, NRP_TYPE  # "The Czech Border Force": the nationality, then the rest
        good = sum(1 for k in range(len(span_words)) if (given[k] or sur[k]) and not common[k])
        unknown = sum(1 for w in span_words if not self.known(w) and len(w) > 1)
        if given[0] and (good or unknown) and not all(common):
            return j, PERSON
        if good >= 1 and good + unknown >= len(span_words) - 1 and not (initial and all(common)) and (
            len(span_words) > 2 or good == 2 or unknown or not common[0]
        ):
            return j, PERSON
        if unknown >= len(span_words) - 1 and (not initial or unknown >= 1 and len(span_words) - unknown <= 1):
            if any(given):
                return j, PERSON
            return j, None if self.technical() else ORGANIZATION
        if all(place[k] or common[k] for k in range(len(span_words))) and any(
            place[k] and not common[k] for k in range(len(span_words))
        ):
            return j, LOCATION
        if all(self.known(w) for w in span_words):
            return j, None  # a title-cased phrase of English words ("Entertainment Weekly")
        return i + 1, None
