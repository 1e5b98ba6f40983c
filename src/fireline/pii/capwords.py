"""Capitalised words and what the name finders read about them: the entity kinds, the word
lists of context, each word's base form, code shape and neighbours, the runs of capitalised
words in a text, and the per-word caches (English vocabulary only)."""

from __future__ import annotations

import re

from fireline.pii import gazetteer
from fireline.pii.lexicon import NRP, ORG_SUFFIXES, STOP_CAPS, TITLES, words

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
    find = text.find
    for g in _RUN.findall(text):
        s = find(g, pos)
        pos = s + len(g)
        # An identifier, a path or an address has its first word glued to what comes before.
        if " " not in g:
            hit = plain.get(g)
            if hit or (hit is None and _plain_word(g)):
                continue
            if not (s and (text[s - 1].isalnum() or text[s - 1] in "_@/.\\")):
                runs.append([(g, s, pos)])
            continue
        inside = s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_@/.\\")
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
    # Only words English knows are remembered (plain or not, as `_WORDS`): no word a user typed that
    # English lacks stays in the cache.
    if hit or b in g.words:
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
