"""Names, places, organisations, nationalities and titles, from capitalisation, word lists and context.

One regex finds capitalised words (any script with case); adjacent ones form runs, and each run
is read with the gazetteer (given names, surnames, places, English word frequencies) and the
closed lists of `lexicon`. Cue phrases ("my name is", "Dear", "lives in") add lower-case and
unknown words the lists cannot vouch for. No model, no per-word regex: the cost is one scan plus
a few set look-ups per capitalised word.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from fireline.patterns import matches
from fireline.pii import gazetteer
from fireline.pii.lexicon import LEGAL_FORMS, MONTHS, NRP, ORG_SUFFIXES, STOP_CAPS, TITLES, WEEKDAYS, words
from fireline.pii.text import NAME_CUES, Text

PERSON = "PERSON"
LOCATION = "LOCATION"
ORGANIZATION = "ORGANIZATION"
NRP_TYPE = "NRP"
TITLE = "TITLE"

Span = tuple[str, int, int]

# A word this frequent in English ("Will", "Grant", "Mobile") is not a name on its own.
COMMON = 13

_UPPER = "".join(chr(c) for c in range(0x41, 0x2000) if chr(c).isupper() or chr(c).istitle())
_CAPWORD = re.compile(rf"[{_UPPER}][\w'’-]*\.?")
# Lower-case words allowed inside a name or place ("Ludwig van Beethoven", "Ostrov nad Ohří").
_PARTICLES = words("de del della der den di da das do dos du van von la le zu ter ten bin ibn al el y e nad pod upon")
# Words that make a text technical: there, unknown capitalised words are products, not companies.
_TECH_WORDS = (
    "install", "configur", "deploy", "server", "api", "code", "function", "python", "javascript", "sql",
    "database", "docker", "query", "error", "library", "framework", "package", "version", "command",
    "cluster", "container", "compile", "debug", "script", "proxy", "kernel", "linux", "repository", "endpoint",
    "object", "class ", "module", "process", "thread",
)
_LANGUAGE_CUES = words("""
into in speak speaks speaking spoke learn learning learned study studying studied translate translated
native fluent teach teaching taught
""")
_STREET_ABBREVIATIONS = words("st rd ave av blvd ln dr ct pl sq hwy")
_SENTENCE_END = frozenset('.!?:;"“”(\n\r\t•*>-|[¿¡«')
_LOC_PREPS = words("""
in from to near at visit visiting visited around outside across via into towards toward of
city town village capital
""")
_PERSON_CUES_BEFORE = words("""
said says asked asks told tells named called meet met contact dear hi hello hey thanks thank
with by to cc attn signed regards from and mr mrs ms dr
""")
_PERSON_VERBS_AFTER = words("""
said says asked asks told tells wrote writes replied is was has had will would can could should did does
lives lived works worked who 's began begins shouted went spent joined founded moved loves likes wants
needs called calls got gave made took came left arrived sent thinks thought knows knew
""")
# "my name is ...": the words after such a cue are a name even in lower case.
# "I work for Ellis-Ingram", "she joined Paxata": the capitalised words after are an organisation.
# "I work for Ellis-Ingram", "she joined Paxata": the capitalised words after are an organisation.
_ORG_CUES = (
    "work for", "works for", "worked for", "working for", "work at", "works at", "worked at", "working at",
    "employed by", "employed at", "joined", "job at", "intern at", "interned at", "ceo of", "ceo at", "cto of",
    "cfo of", "founder of", "head of", "director of", "director at", "manager at", "engineer at", "employee of",
    "member of",
)
_JOB_WORDS = ("work", "job", "employed")
_RUN = re.compile(
    rf"[{_UPPER}][\w'’-]*\.?(?:(?: (?:{'|'.join(sorted(_PARTICLES, key=len, reverse=True))}))? [{_UPPER}][\w'’-]*\.?)*"
)
_CODE_CHARS = re.compile(r"[\d_]")
_NAME_PREFIX = re.compile(r"(?:Mc|Mac|O'|O’|De|Di|La|Le|Van|Von|[^-]+-)[A-Z]")
_NEXT_WORD = re.compile(r"\W{0,3}?([\w']+)")
_LOWER_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _base(tok: str) -> str:
    """Lower case, without a final dot or possessive 's."""
    t = tok.rstrip(".")
    if t[-2:] in ("'s", "’s"):
        t = t[:-2]
    return t.rstrip("'’").lower()


def _is_code(tok: str) -> bool:
    """Identifiers and acronyms: digits, underscores, CamelCase past a name prefix, ALL CAPS of 2-5."""
    body = tok.rstrip(".")
    rest = body[1:]
    if body.isalpha() and (not rest or rest.islower()):
        return False  # the common case, decided by two C calls
    if _CODE_CHARS.search(tok):
        return True
    uppers = sum(1 for ch in rest if ch.isupper())
    if uppers and not body.isupper():
        # McDonald, MacLeod, O'Brien, DeShawn, Jean-Luc: one inner capital after a known shape.
        return not (uppers == 1 and _NAME_PREFIX.match(body))
    return False


def _line_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t>*-•?":
        i -= 1
    return i < 0 or text[i] == "\n"


def prev_char(text: str, start: int) -> str:
    i = start - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return text[i] if i >= 0 else ""


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def _prev_word(text: str, start: int) -> str:
    j = start
    lo = max(0, start - 30)
    while j > lo and not (text[j - 1].isalnum() or text[j - 1] == "'"):
        j -= 1
    i = j
    while i > lo and (text[i - 1].isalnum() or text[i - 1] in "'_"):
        i -= 1
    return text[i:j].lower()


def _next_word(text: str, end: int) -> str:
    """The next word in lower case, or the punctuation mark (, : ! ?) that comes first."""
    if text[end : end + 2] in ("'s", "’s"):
        return "'s"
    rest = text[end : end + 30].lstrip(" ")
    if rest[:1] in (",", ":", "!", "?"):
        return rest[0]
    m = _NEXT_WORD.match(rest)
    return m.group(1).lower() if m else ""


def _runs(text: str) -> list[list[tuple[str, int, int]]]:
    """Capitalised words grouped into runs separated by one space or a lower-case particle.

    One regex match per run, as strings (no match objects); a single word that no rule can make
    an entity ("Thanks", "The") is dropped by a dictionary look-up before any offset is built."""
    runs: list[list[tuple[str, int, int]]] = []
    pos = 0
    plain = _PLAIN
    for g in _RUN.findall(text):
        s = text.find(g, pos)
        pos = s + len(g)
        if " " not in g:
            hit = plain.get(g)
            if hit is None:
                hit = _plain_word(g)
            if hit:
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


def _plain_word(tok: str) -> bool:
    """A word no rule can make an entity on its own: a stop word, or frequent English that is no
    name, place, nationality or title. Most capitalised words in prose are these. Cached per word."""
    b = _base(tok)
    g = gazetteer.get()
    hit = b in STOP_CAPS or (
        g.words.get(b, 0) >= COMMON and b not in g.given and b not in g.surname
        and b not in g.place and b not in g.place_heads and not _nrp(b) and b not in TITLES
        and not tok.rstrip(".").isupper()
    )
    if hit:  # only plain English words are remembered: no name a user typed stays in the cache
        if len(_PLAIN) > 50_000:
            _PLAIN.clear()
        _PLAIN[tok] = hit
    return hit


# Per-word caches shared by all scans. They hold English vocabulary only (never a text, an offset
# or a word English lacks), so no name a user typed outlives the scan in them.
_PLAIN: dict[str, bool] = {}
_FEATURES: dict[str, tuple[bool, bool, bool, bool, bool]] = {}
# A capitalised word's (base, code-like, upper case), for words of English vocabulary only.
_WORDS: dict[str, tuple[str, bool, bool]] = {}


def _word_facts(tok: str) -> tuple[str, bool, bool]:
    """(`_base`, `_is_code`, all upper case past one letter) of a word, cached when English knows it."""
    b = _base(tok)
    facts = (b, _is_code(tok), len(tok) > 1 and tok.rstrip(".").isupper())
    if b in gazetteer.get().words:
        if len(_WORDS) > 50_000:
            _WORDS.clear()
        _WORDS[tok] = facts
    return facts


class _Reader:
    __slots__ = ("_technical", "g", "out", "text")

    def __init__(self, text: str, out: list[Span]) -> None:
        self.g = gazetteer.get()
        self.text = text
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
            low = self.text.lower()
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
        g = self.g
        text = self.text
        facts = _WORDS.get(tok) or _word_facts(tok)
        b = facts[0]
        # A place of one word needs no look-ahead: `_place_len` finds none in a run of one.
        if b in STOP_CAPS or facts[1] or len(b) < 2 and not tok.endswith("."):
            return
        if facts[2]:
            # Acronyms (API, ATM, CEO) are not names; an upper-case word may still be a place.
            if (len(b) > 4 and b in g.place and not self.common(b)) or (
                len(b) >= 5 and not self.known(b) and _prev_word(text, s) in _LOC_PREPS
            ):
                self.out.append((LOCATION, s, _end(text, (tok, s, e))))
            return
        kind = self._single_kind(tok, s, e, b)
        if kind:
            self.out.append((kind, s, _end(text, (tok, s, e))))

    def _single_kind(self, tok: str, s: int, e: int, b: str) -> str | None:
        """`_name_extent`'s answer for a word alone in its run (a title alone is read here too)."""
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
        prev = _prev_word(text, s)
        nxt = _next_word(text, _end(text, (tok, s, e)))
        if place and not initial and b not in TITLES and (
            prev in _LOC_PREPS or (prev_char(text, s) == "," and not common)
        ):
            return LOCATION  # "in Lyon", "Lyon, France": a place, though also a name
        if b in _STREET_ABBREVIATIONS:
            return None
        if nxt == ":" and _line_start(text, s) and not self.known(b) and len(b) >= 3:
            return PERSON  # a speaker in a transcript whose name no list knows ("Ubul: ...")
        # A speaker in a transcript ("Ella: What a wife."), a name called out ("Don't go, Mark!").
        if given and b not in STOP_CAPS and (
            (nxt == ":" and _line_start(text, s) and not common)
            or (prev_char(text, s) == "," and nxt in ("!", "?"))
        ):
            return PERSON
        if (given or sur) and not common:
            if not initial or nxt in _PERSON_VERBS_AFTER or prev in _PERSON_CUES_BEFORE:
                return PERSON
            return None if self.g.words.get(b, 0) >= 9 else PERSON
        if not self.known(b) and len(b) >= 3 and (not initial or self._proper_at_start(b, nxt)):
            # A capitalised word English does not know, mid-sentence: a proper noun.
            if prev in _LOC_PREPS:
                return LOCATION
            if prev in _PERSON_CUES_BEFORE or nxt in _PERSON_VERBS_AFTER:
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
        initial = _sentence_initial(text, s)
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
        span_words = [t[3] for t in toks[i:j]]
        feats = [_FEATURES.get(w) or self._features(w) for w in span_words]
        common, given, sur, place, nrp = zip(*feats, strict=True)
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


def _nrp(b: str) -> bool:
    if b in NRP:
        return True
    if b.endswith("es") and b[:-2] in NRP:
        return True
    return b.endswith("s") and b[:-1] in NRP


_ABBREVIATIONS = TITLES | ORG_SUFFIXES  # words whose dot is their own ("Dr.", "Inc.")


def _end(text: str, tok: tuple[str, int, int] | tuple[str, int, int, str]) -> int:
    """End of a word without its sentence-final dot (kept after initials and abbreviations)."""
    word, _, e = tok[0], tok[1], tok[2]
    if word.endswith(".") and len(word) > 2 and word[:-1].lower() not in _ABBREVIATIONS:
        e -= 1
    if text[e - 2 : e] in ("'s", "’s"):
        e -= 2
    return e


# Cue phrases after which a name follows; strong ones ("call me") vouch even for unknown
# lower-case words. Found with str.find on the lower-case text: one regex alternation over the
# whole text would cost ~50 us per 2 KB.
_NAME_CUES: tuple[tuple[str, bool], ...] = (
    ("my name is", True), ("my name's", True), ("name is", True), ("name?", True), ("name:", False),
    ("names:", False), ("call me", True), ("i am called", True), ("i'm called", True), ("known as", True),
    ("this is", False), ("named", False), ("signed", False), ("regards", False), ("sincerely", False),
    ("cheers", False), ("dear", False), ("attn", False),
)


def _name_after(text: str, pos: int, strong: bool, out: list[Span], caseless: bool = False) -> None:
    """The name that follows a cue ending at pos ("my name is| Aoife Murphy")."""
    g = gazetteer.get()
    n = len(text)
    while pos < n and text[pos] in ",:":
        pos += 1
    start_ws = pos
    while pos < n and text[pos] in " \t\n":
        pos += 1
    if pos == start_ws:
        return
    words = []
    for w in _LOWER_WORD.finditer(text, pos, pos + 60):
        if w.start() != pos and text[pos : w.start()] != " ":
            break
        b = _base(w.group())
        if b in STOP_CAPS or (g.words.get(b, 0) >= COMMON and b not in g.given):
            break
        # Lower-case words after a cue must be names, or after a strong cue ("call me") words
        # English does not know; capitalised ones need only not be common.
        if (caseless or w.group()[0].islower()) and b not in g.given and b not in g.surname and not (
            strong and b not in g.words
        ):
            break
        words.append(w)
        pos = w.end()
        if len(words) == 3:
            break
    if words:
        end = _end(text, (words[-1].group(), words[-1].start(), words[-1].end()))
        out.append((PERSON, words[0].start(), end))


def _organisation_after(text: str, start: int, out: list[Span]) -> None:
    while start < len(text) and text[start] == " ":
        start += 1
    end = start
    last = None
    for w in _CAPWORD.finditer(text, start, start + 80):
        if w.start() != end:
            gap = text[end : w.start()]
            if gap not in (" ", " & ", " and ", " And ", ", "):
                break
        last = w
        end = w.end()
    if last is not None and start < end:
        out.append((ORGANIZATION, start, _end(text, (last.group(), last.start(), last.end()))))


def _job_title_after(text: str, low: str, cue_end: int, out: list[Span]) -> None:
    """ "worked for NATO as Passenger booking clerk,": the title after "as" in the same sentence."""
    window = low[cue_end : cue_end + 60]
    cut = min((k for k in (window.find("."), window.find("!"), window.find("?"), window.find("\n")) if k >= 0),
              default=len(window))
    k = window.find(" as ", 0, cut)
    if k < 0 and window.startswith("as "):
        k = -1
    elif k < 0:
        return
    begin = cue_end + k + 4
    if low.startswith(("a ", "an "), begin):
        begin = low.index(" ", begin) + 1
    stop = _TITLE_STOP.search(text, begin, begin + 50)
    title = text[begin : stop.start() if stop else begin].split()
    if not stop or not title or title[0].lower() in _NOT_TITLES or len(title) > 5:
        return  # "works as follows", "worked as expected"
    out.append((TITLE, begin, stop.start()))


_NOT_TITLES = words("""
follows follow expected intended usual before well long soon much many such if though part one
described shown planned designed documented advertised promised normal always fast quickly
""")
_TITLE_STOP = re.compile(r"[,.;:!?\n]| (?:at|for|in|with|but|and|since|until|from)\b")
_TITLE_WORDS = ("mr", "mrs", "ms", "miss", "dr", "prof")


def _title_in_lower_case(text: str, i: int, title: str, out: list[Span]) -> None:
    """ "ms. Quinzia", "mr. elliott": a lower-case title and the word after it."""
    if text[i] != title[0]:
        return  # capitalised titles are read with their run
    g = gazetteer.get()
    j = i + len(title)
    dot = j < len(text) and text[j] == "."
    k = j + 1 if dot else j
    if k >= len(text) or text[k] != " ":
        return
    w = _LOWER_WORD.match(text, k + 1)
    if not w:
        return
    b = _base(w.group())
    if w.group()[0].islower() and not (b in g.surname or b in g.given) or b in STOP_CAPS:
        return
    out.append((TITLE, i, j + (1 if dot else 0)))
    out.append((PERSON, w.start(), _end(text, (w.group(), w.start(), w.end()))))


def _compile_cues() -> Any:
    """One automaton for every cue phrase (RE2: one pass over the text, whatever their number)."""
    phrases = sorted({c for c, _ in _NAME_CUES} | set(_ORG_CUES) | set(_TITLE_WORDS) | set(_JOB_WORDS)
                     | _NRP_FORMS, key=len, reverse=True)
    pattern = r"\b(?:" + "|".join(re.escape(p) for p in phrases) + ")"
    try:
        import re2

        return re2.compile(pattern)
    except ImportError:  # pragma: no cover - google-re2 is a dependency
        return re.compile(pattern)


_NRP_FORMS = frozenset(NRP | {w + "s" for w in NRP} | {w + "es" for w in NRP})
_CUES = _compile_cues()
_STRONG = dict(_NAME_CUES)
_ORG_SET = frozenset(_ORG_CUES)
_TITLE_SET = frozenset(_TITLE_WORDS)


def _cued(text: str, low: str, out: list[Span], caseless: bool = False) -> None:
    """Names, organisations, titles and job titles after their cue phrases."""
    n = len(low)
    for cue, start, end in matches(_CUES, low):  # ASCII text as bytes: cues are frequent in prose
        if cue[-1].isalpha() and end < n and low[end].isalnum():
            continue  # "named" inside "namedtuple", "ms" inside "msg"
        if cue in _NRP_FORMS:
            # Capitalised ones are read with their run; "we are proud bruneians" is not.
            if text[start].islower() and gazetteer.get().words.get(cue, 0) < COMMON \
                    and _prev_word(text, start) not in _LANGUAGE_CUES:
                out.append((NRP_TYPE, start, end))
        elif cue in _STRONG:
            _name_after(text, end, _STRONG[cue], out, caseless)
        elif cue in _TITLE_SET:
            _title_in_lower_case(text, start, cue, out)
        else:
            if cue in _ORG_SET:
                _organisation_after(text, end, out)
            if cue.startswith(_JOB_WORDS):
                _job_title_after(text, low, end, out)


_LIST_GAP = re.compile(r",\s*|\s+and\s+|,\s*and\s+|\s*&\s*")


def _lower_case_text(text: str, out: list[Span]) -> None:
    """Text typed without capitals: names and places from the lists alone, rare words only. A
    short or English-looking given name ("len", "eva", "colon") counts only beside another name
    word ("eva kleist")."""
    g = gazetteer.get()
    words_ = g.words
    n = len(text)
    names: list[tuple[int, int, bool]] = []  # (start, end, strong) of name words
    for m in _LOWER_WORD.finditer(text):
        b = _base(m.group())
        if len(b) < 3 or b in STOP_CAPS or b in MONTHS or b in WEEKDAYS:
            continue
        s, e = m.span()
        if (s and text[s - 1] in "@./\\_") or (e < n and (text[e] in "@/_" or text[e] == "." and e + 1 < n
                                                            and text[e + 1].isalnum())):
            continue  # part of an e-mail, a domain or a path
        rank = words_.get(b, 0)
        end = _end(text, (m.group(), s, e))
        if _nrp(b) and rank < COMMON:
            out.append((NRP_TYPE, s, end))
        elif b in g.given and rank < 11:
            names.append((s, end, len(b) > 3 and rank < 9))
        elif b in g.place and rank < 9 and len(b) > 3:
            out.append((LOCATION, s, end))
        elif b in g.surname and rank < 9:
            names.append((s, end, False))
    # One name per run of name words joined by spaces; a run of weak words counts when a list of
    # names surrounds it ("silvana, adam, chad and caleb").
    groups: list[list[tuple[int, int, bool]]] = []
    for nm in names:
        if groups and text[groups[-1][-1][1] : nm[0]] == " ":
            groups[-1].append(nm)
        else:
            groups.append([nm])
    for k, grp in enumerate(groups):
        before = groups[k - 1] if k else None
        after = groups[k + 1] if k + 1 < len(groups) else None
        listed = (before is not None and _LIST_GAP.fullmatch(text[before[-1][1] : grp[0][0]]) is not None) or (
            after is not None and _LIST_GAP.fullmatch(text[grp[-1][1] : after[0][0]]) is not None)
        if len(grp) > 1 or grp[0][2] or listed:
            out.append((PERSON, grp[0][0], grp[-1][1]))


_BLOCK_ANCHORS = frozenset({PERSON, "STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS"})


def find_block_lines(text: str, found: list[Span]) -> None:
    """Lines of a signature or address block: a short line right under a line that is only a
    person's name, or right above an address line, is their job title or organisation
    ("Idris Ibragimov / Onvia / 1317 Kimberly Way ...")."""
    if "\n" not in text:
        return
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        prefix = len(line) - len(line.lstrip(" \t>*•?#-"))
        lines.append((pos + prefix, pos + len(line.rstrip())))
        pos += len(line) + 1
    cover: dict[int, set[str]] = {}
    whole: dict[int, str] = {}
    for kind, s, e in found:
        for k, (ls, le) in enumerate(lines):
            if s < le and ls < e:
                cover.setdefault(k, set()).add(kind)
                if s <= ls and e >= le:
                    whole[k] = kind
    g = gazetteer.get()
    for k, (ls, le) in enumerate(lines):
        if k in cover or le - ls < 2 or le - ls > 60:
            continue
        line = text[ls:le]
        if line.endswith(":") or any(p in line for p in (". ", "? ", "! ", "?", "!", '"')) or not line[0].isupper():
            continue
        n_words = len(line.split())
        if n_words > 6:
            continue
        above = next((j for j in range(k - 1, -1, -1) if lines[j][1] > lines[j][0]), None)
        below = next((j for j in range(k + 1, len(lines)) if lines[j][1] > lines[j][0]), None)
        under_name = above is not None and whole.get(above) == PERSON
        over_address = below is not None and whole.get(below) == "STREET_ADDRESS" or (
            below is not None and "STREET_ADDRESS" in cover.get(below, set()) and lines[below][0] in
            {s for kind, s, _ in found if kind == "STREET_ADDRESS"})
        if not (under_name or over_address):
            continue
        known = all(_base(w) in g.words for w in line.split())
        found.append((TITLE if known and not over_address else ORGANIZATION, ls, le))




def find_entities(t: Text, out: list[Span]) -> None:
    """Append PERSON, LOCATION, ORGANIZATION, NRP and TITLE spans of text to out (may overlap)."""
    text, low = t.text, t.low
    reader = _Reader(text, out)
    # Text without case (all lower, or all upper: shouting, old systems) carries no capitals to
    # read: names and places come from the lists alone, and not at all in technical text.
    caseless = len(text) > 3 and (low == text or (text.upper() == text and len(low) == len(text)))
    if caseless:
        if not reader.technical():
            mine: list[Span] = []
            _lower_case_text(low, mine)
            out.extend(mine)
    else:
        for run in _runs(text):
            reader.run(run)
    if t.gate(NAME_CUES, _CUES):
        _cued(text, low, out, caseless)


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m fireline.pii.entities "text"
    found: list[Span] = []
    find_entities(Text(sys.argv[1]), found)
    print([(k, sys.argv[1][s:e]) for k, s, e in found])
