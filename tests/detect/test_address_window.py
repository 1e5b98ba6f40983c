"""The address pass skips a number's window when no street-type word can be in it (`_TypeWords`).

The spans must be exactly those of listing every window's words, the implementation kept here as
`_street_before_listing` (pii/address.py before the skip): compared number by number and through
find_addresses, on generated texts mixing numbers, street words of several languages in any case,
punctuation and characters whose lower case is odd (İ, the Kelvin sign, Σ, ẞ).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.pii import address
from fireline.pii.address import _ANY_WORD, _ENDING_TUPLE, _TYPE_WORDS, _type_first_ok, _TypeWords
from fireline.pii.text import Text


def _street_before_listing(text: str, s: int) -> int:
    """pii.address._street_before as it was: every number lists the words of its window."""
    j = s
    while j > 0 and text[j - 1] == " ":
        j -= 1
    if j == s:
        return -1
    i = j
    while i > 0 and (text[i - 1].isalpha() or text[i - 1] in "'’.-"):
        i -= 1
    word = text[i:j].lower()
    if not word:
        return -1
    if len(word) > 4 and word.endswith(_ENDING_TUPLE):
        return i
    window = text[max(0, s - 70) : s]
    words = list(_ANY_WORD.finditer(window))[-7:]
    for k, w in enumerate(words[:-1]):
        if w.group().rstrip(".").lower() in _TYPE_WORDS and len(words) - k >= 2:
            gap = window[w.end() : words[-1].end()]
            if "\n" in gap or "," in gap:
                continue
            if _type_first_ok(window[w.start() :] + " 1"):
                start = w.start()
                while k > 0 and words[k - 1].group()[:1].isupper() and window[words[k - 1].end() : start] == " ":
                    k -= 1
                    start = words[k].start()
                return max(0, s - 70) + start
    return -1


STREET = ["Street", "ST.", "st", "Rd.", "road", "Avenue", "ave", "Av.", "Blvd", "Lane", "way", "Place", "Circle",
          "rue", "Allée", "ALLÉE", "chemin", "Quai", "via", "Viale", "Piazza", "calle", "Avenida", "Rua", "Praça",
          "PRAÇA", "Straße", "STRASSE", "strasse", "Str.", "Weg", "Platz", "ul.", "Ulica", "al.", "utca", "út", "Út",
          "tér", "Körút", "KÖRÚT", "plac", "park", "Loop"]
NAMES = ["Main", "Botley", "Hammarvägen", "Vinte", "de", "Setembro", "Provence", "Mainstreet", "Broadway", "first",
         "third", "request", "Marszałkowska", "Andrássy", "Kings", "x", "the", "and", "on", "at", "Apt", "Suite"]
ODD = ["İ", "İstanbul", "K", "ſt", "ΟΔΟΣ", "Σ", "ẞ", "é", "—", "’", "'", "ß", "日本", "😀", "½", "²", "٣", "\u0307"]
SEPARATORS = [" ", " ", " ", "  ", ", ", ",", "\n", ". ", ".", "-", "_", "/", ":", "#", "(", ")", "; "]
NUMBERS = st.from_regex(r"\A[0-9]{1,7}[A-Za-z]?\Z", fullmatch=True)

LONG = st.from_regex(r"\A[A-Za-zéß]{8,30}\Z", fullmatch=True)  # windows of few words: the first may count
piece = st.one_of(st.sampled_from(STREET), st.sampled_from(NAMES), st.sampled_from(ODD), NUMBERS, LONG,
                  st.text(min_size=1, max_size=6))
texts = st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), min_size=1, max_size=40).map(
    lambda parts: "".join(p + sep for p, sep in parts))


def _assert_same(text: str) -> None:
    t = Text(text)
    types = _TypeWords.of(t)
    for s, _ in t.digits:
        assert address._street_before(text, s, types) == _street_before_listing(text, s), (text, s)


@given(texts)
@settings(max_examples=1500, deadline=None)
def test_each_number_finds_the_street_start_that_listing_its_window_finds(text: str) -> None:
    _assert_same(text)


@given(texts)
@settings(max_examples=500, deadline=None)
def test_find_addresses_gives_the_spans_of_the_listing_implementation(text: str) -> None:
    new: list[tuple[str, int, int]] = []
    address.find_addresses(Text(text), new)
    old: list[tuple[str, int, int]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(address, "_street_before", lambda text, s, types=None: _street_before_listing(text, s))
        address.find_addresses(Text(text), old)
    assert new == old


@pytest.mark.parametrize("street", [
    "Mainstreet", "Broadway", "Rue", "x-st.", "Foo'street", "Foo’Road", "12street", "_way", "Körút", "AndrássyÚt",
    "İstreet", "KStraße", "allée", "Allées", "ſt", "ΟΔΟΣ",
])
def test_every_window_start_inside_or_around_a_street_word(street: str) -> None:
    # The 70-character window may start inside a word ("Mainstreet" read as "street"): every offset.
    for mid in range(40, 80):
        for before in ("", "Ab ", "9", "é"):
            _assert_same(f"{before}{street} {'W' * mid} Kings 15, x {street} de {'w' * (mid // 2)} Bar 4")


def test_a_street_word_far_before_the_number_is_still_seen_and_one_out_of_the_window_is_not() -> None:
    text = "Rua Vinte e Cinco de Setembro 1257, then 48 " + "z" * 60 + " 3"
    t = Text(text)
    types = _TypeWords.of(t)
    assert types is not None and types._index() == [0]
    assert address._street_before(text, text.index("1257"), types) == 0
    assert address._street_before(text, len(text) - 1, types) == -1
    types.asked = 8  # the same answers from the index
    assert address._street_before(text, text.index("1257"), types) == 0
    assert address._street_before(text, len(text) - 1, types) == -1
    assert types.starts == [0]


@given(texts, st.data())
@settings(max_examples=600, deadline=None)
def test_a_window_listing_its_runs_answers_as_the_index(text: str, data: st.DataObject) -> None:
    types = _TypeWords.of(Text(text))
    if types is None:
        return
    indexed = _TypeWords(types.marks)
    indexed.asked = 8  # always the index
    for s in range(1, len(text) + 1):
        if text[s - 1] == " ":
            ws = data.draw(st.integers(0, s - 1))
            fresh = _TypeWords(types.marks)  # always the window's own runs
            assert fresh.may_hold(ws, s) == indexed.may_hold(ws, s), (text, ws, s)
            assert fresh.starts is None
