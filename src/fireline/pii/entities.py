"""Names, places, organisations, nationalities and titles, from capitalisation, word lists and context.

One regex finds capitalised words (any script with case); adjacent ones form runs, and each run
is read with the gazetteer (given names, surnames, places, English word frequencies) and the
closed lists of `lexicon`. Cue phrases ("my name is", "Dear", "lives in") add lower-case and
unknown words the lists cannot vouch for. No model, no per-word regex: the cost is one scan plus
a few set look-ups per capitalised word.

Three modules: `capwords` (the entity kinds, each word's facts and neighbours, the runs of a text),
`runs` (the reader of one run) and this one (the cue phrases, address blocks and the entry point).
"""


from __future__ import annotations

import re
import sys
from typing import Any

from fireline.patterns import matches
from fireline.pii import gazetteer
from fireline.pii.capwords import (
    _CAPWORD,
    _JOB_WORDS,
    _LANGUAGE_CUES,
    _LOWER_WORD,
    _ORG_CUES,
    COMMON,
    LOCATION,
    NRP_TYPE,
    ORGANIZATION,
    PERSON,
    TITLE,
    Span,
    _base,
    _end,
    _nrp,
    _prev_word,
    _runs,
)
from fireline.pii.lexicon import MONTHS, NRP, STOP_CAPS, WEEKDAYS, words
from fireline.pii.runs import _Reader
from fireline.pii.text import NAME_CUES, Text

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
    reader = _Reader(text, out, low)
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
