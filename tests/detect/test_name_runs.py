"""The run reader's shortcuts answer exactly what the plain version answered.

`_Reader.run` reads a run of one capitalised word (most runs) with `_word`, which reads the words
around it only when a rule asks them, and takes each word's base, code shape and case from a cache
of English words. These properties hold it to the reader as it was written first (`PlainReader`,
verbatim), on generated text rich in names, places, titles, acronyms, cue words and punctuation.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.pii import capwords, entities
from fireline.pii.capwords import (
    _FEATURES,
    _LANGUAGE_CUES,
    _LOC_PREPS,
    _PERSON_CUES_BEFORE,
    _PERSON_VERBS_AFTER,
    _STREET_ABBREVIATIONS,
    LOCATION,
    NRP_TYPE,
    ORGANIZATION,
    PERSON,
    TITLE,
    Span,
    _base,
    _end,
    _is_code,
    _line_start,
    _next_word,
    _prev_word,
    _runs,
    _sentence_initial,
    prev_char,
)
from fireline.pii.lexicon import LEGAL_FORMS, MONTHS, ORG_SUFFIXES, STOP_CAPS, TITLES, WEEKDAYS
from fireline.pii.runs import _Reader
from fireline.pii.text import Text


class PlainReader(_Reader):
    """The reader before its shortcuts: every run read word by word, every word's facts computed."""

    def run(self, run: list[tuple[str, int, int]]) -> None:
        g = self.g
        text = self.text
        toks = [(tok, s, e, _base(tok)) for tok, s, e in run]
        n = len(toks)
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
            if b in STOP_CAPS or _is_code(tok) or len(b) < 2 and not (tok.endswith(".") or i + 1 < n):
                i += 1
                continue
            if len(tok) > 1 and tok.rstrip(".").isupper():
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
                while j < n and not _is_code(toks[j][0]) and toks[j][3] not in STOP_CAPS:
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

    def _name_extent(self, toks: list[tuple[str, int, int, str]], i: int) -> tuple[int, str | None]:
        text = self.text
        tok, s, e, b = toks[i]
        initial = _sentence_initial(text, s)
        n = len(toks)
        # Extend over name-like words: not stop words, not code, not places alone.
        j = i + 1
        while j < n:
            t2, _, _, b2 = toks[j]
            if b2 in STOP_CAPS or _is_code(t2) or b2 in ORG_SUFFIXES or (len(t2) > 2 and t2.rstrip(".").isupper()):
                break
            j += 1
        span_words = [t[3] for t in toks[i:j]]
        feats = [_FEATURES.get(w) or self._features(w) for w in span_words]
        common = [f[0] for f in feats]
        given = [f[1] for f in feats]
        sur = [f[2] for f in feats]
        place = [f[3] for f in feats]
        nrp = [f[4] for f in feats]
        if j - i == 1:
            if nrp[0]:
                # "into Spanish", "studying English": a language, not a nationality.
                return j, None if _prev_word(text, s) in _LANGUAGE_CUES else NRP_TYPE
            if b in MONTHS or b in WEEKDAYS:
                return j, None
            prev = _prev_word(text, s)
            nxt = _next_word(text, _end(text, toks[i]))
            if place[0] and not common[0] and not given[0]:
                return j, LOCATION
            if place[0] and not initial and b not in TITLES and (
                prev in _LOC_PREPS or (prev_char(text, s) == "," and not common[0])
            ):
                return j, LOCATION  # "in Lyon", "Lyon, France": a place, though also a name
            if b in _STREET_ABBREVIATIONS:
                return j, None
            if nxt == ":" and _line_start(text, s) and not self.known(b) and len(b) >= 3:
                return j, PERSON  # a speaker in a transcript whose name no list knows ("Ubul: ...")
            # A speaker in a transcript ("Ella: What a wife."), a name called out ("Don't go, Mark!").
            if given[0] and b not in STOP_CAPS and (
                (nxt == ":" and _line_start(text, s) and not common[0])
                or (prev_char(text, s) == "," and nxt in ("!", "?"))
            ):
                return j, PERSON
            if (given[0] or sur[0]) and not common[0]:
                if not initial or nxt in _PERSON_VERBS_AFTER or prev in _PERSON_CUES_BEFORE:
                    return j, PERSON
                return j, None if self.g.words.get(b, 0) >= 9 else PERSON
            if not self.known(b) and len(b) >= 3 and (not initial or self._proper_at_start(b, nxt)):
                # A capitalised word English does not know, mid-sentence: a proper noun.
                if prev in _LOC_PREPS:
                    return j, LOCATION
                if prev in _PERSON_CUES_BEFORE or nxt in _PERSON_VERBS_AFTER:
                    return j, PERSON
                # In technical text an unknown capitalised word is mostly a product (Nginx, Kubernetes).
                return j, None if self.technical() else ORGANIZATION
            if place[0] and not common[0]:
                return j, LOCATION
            return j, None
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


WORDS = [
    "Anna", "Maria", "Smith", "O'Brien", "McDonald", "Jean-Luc", "Mark", "Will", "Grant", "Ella", "Ubul",
    "Paris", "France", "Lyon", "New", "York", "Zealand", "Buenos", "Aires", "United", "States", "Kingdom",
    "American", "Americans", "English", "Spanish", "Czech", "Bruneians", "UK", "EU", "USA", "NATO", "LONDON",
    "GDP", "API", "Dr.", "Dr", "Mr.", "Mrs", "Ms.", "M.", "Fr", "Sr.", "U.", "S.", "J.", "St.", "Rd", "Ave",
    "Acme", "Infocommerce", "Group", "Services", "Text", "Inc.", "LLC", "Ltd", "Corp", "Civic", "Impulse",
    "Nginx", "Kubernetes", "Bitwise", "Formfeed", "Shovda", "Nekolná", "Paxata", "Ellis-Ingram", "Monday",
    "January", "May", "The", "Thanks", "What", "People", "Sun", "Queen", "Bible", "Entertainment", "Weekly",
    "Anna's", "Paris's", "Einstein", "Elvis", "Roswell", "Twinkle", "x_1", "Foo2", "CamelCase", "iPhone",
    "van", "de", "la", "bin", "and", "or", "in", "from", "into", "studying", "said", "is", "lives", "dear",
    "named", "my", "name", "hello", "to", "with", "install", "server", "python", "code", "the", "a",
    ",", ".", ":", "!", "?", "\n", "-", "(", '"', "'s", " ",
]
texts = st.lists(st.sampled_from(WORDS), max_size=30).map(lambda ws: " ".join(ws).replace(" \n ", "\n"))


def read(reader_type: type[_Reader], text: str) -> list[Span]:
    out: list[Span] = []
    reader = reader_type(text, out)
    for run in _runs(text):
        reader.run(run)
    return out


@settings(max_examples=600, deadline=None)
@given(texts)
def test_run_reader_answers_what_the_plain_reader_answered(text: str) -> None:
    assert read(_Reader, text) == read(PlainReader, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AaBbÉéZz'’-._0 .,:!\n")), max_size=40))
def test_run_reader_matches_on_arbitrary_characters(text: str) -> None:
    assert read(_Reader, text) == read(PlainReader, text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(WORDS) | st.text(alphabet=st.sampled_from(list("AaBbZzÉé'’-._09")), min_size=1, max_size=12))
def test_cached_word_facts_are_the_computed_ones(tok: str) -> None:
    fresh = capwords._word_facts(tok)
    cached = capwords._WORDS.get(tok) or fresh
    expected = (_base(tok), _is_code(tok), len(tok) > 1 and tok.rstrip(".").isupper())
    assert fresh == cached == expected


def test_only_english_words_are_cached() -> None:
    capwords._word_facts("Zqxvbrtl")
    capwords._word_facts("Paris")
    assert "Zqxvbrtl" not in capwords._WORDS
    assert "Paris" in capwords._WORDS


def test_corpus_like_text_reads_the_same() -> None:
    text = ("Ella: What a wife. Dr. Anna Smith lives in Lyon, France, and works for Civic Impulse LLC. "
            "Americans speak English; studying Spanish in Buenos Aires. Don't go, Mark! LONDON is big.")
    assert read(_Reader, text) == read(PlainReader, text)
    found: list[Span] = []
    entities.find_entities(Text(text), found)
    assert found


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(WORDS) | st.text(alphabet=st.sampled_from(list("AaBbZzÉé'’-._09")), min_size=1, max_size=12))
def test_cached_plain_and_lone_answers_are_the_computed_ones(tok: str) -> None:
    from fireline.pii import runs

    fresh = capwords._plain_word(tok)
    assert capwords._PLAIN.get(tok, fresh) == fresh == capwords._plain_word(tok)
    reader = _Reader(tok, [])
    lone = reader._lone(tok)
    assert runs._LONE.get(tok, lone) == lone == reader._lone(tok)


def test_only_english_words_are_cached_as_plain_or_lone() -> None:
    from fireline.pii import runs

    for tok in ("Zqxvbrtl", "Paris", "The", "Anna"):
        capwords._plain_word(tok)
        _Reader(tok, [])._lone(tok)
    assert "Zqxvbrtl" not in capwords._PLAIN and "Zqxvbrtl" not in runs._LONE
    assert "Paris" in capwords._PLAIN and "Paris" in runs._LONE
    assert capwords._PLAIN["The"] is True and capwords._PLAIN["Paris"] is False


def plain_runs(text: str) -> list[list[tuple[str, int, int]]]:
    """capwords._runs as first written (before its single-word shortcut), every word's plain test computed."""
    runs: list[list[tuple[str, int, int]]] = []
    pos = 0
    for g in capwords._RUN.findall(text):
        s = text.find(g, pos)
        pos = s + len(g)
        if " " not in g and capwords._plain_word(g):
            continue
        inside = s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_@/.\\")  # identifier, path, address
        if " " not in g:
            if not inside:
                runs.append([(g, s, pos)])
            continue
        toks: list[tuple[str, int, int]] = []
        at = s
        for part in g.split(" "):
            if part[:1].isupper() or part[:1].istitle():
                toks.append((part, at, at + len(part)))
            at += len(part) + 1
        if inside:
            toks = toks[1:]
        if toks:
            runs.append(toks)
    return runs


@settings(max_examples=600, deadline=None)
@given(texts | st.text(alphabet=st.sampled_from(list("AaBbÉéZz'’-._0 .,:!\n@/\\")), max_size=40))
def test_runs_are_the_plain_runs(text: str) -> None:
    assert _runs(text) == plain_runs(text)
    assert _runs(text) == plain_runs(text)  # the second time from the caches
