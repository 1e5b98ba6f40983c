"""The statement guard's quick pass (fireline.validation) decides as the plain checks it replaced:
the surrogate test as a search for U+D800-U+DFFF, the whole pass as an isinstance filter per value."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.validation import INT32, _has_surrogate, _suspect, _values, text_problem

SURROGATE = re.compile("[\ud800-\udfff]")


def reference_suspect(values: list[Any]) -> bool:
    """The pass as it was: a filter per value, the regex on the text joined."""
    text = "".join([v for v in values if isinstance(v, str)])
    if "\x00" in text or (not text.isascii() and SURROGATE.search(text)):
        return True
    ints = [v for v in values if isinstance(v, int)]
    return bool(ints) and (min(ints) < -INT32 - 1 or max(ints) > INT32)


class Label(str):
    """A str subclass (an enum's value) is text too."""


class Count(int):
    pass


# Text of every width: ASCII, Latin-1, two-byte and four-byte code points, surrogates and NUL.
chars = st.one_of(st.characters(max_codepoint=0x7F), st.characters(min_codepoint=0x80, max_codepoint=0xFF),
                  st.characters(min_codepoint=0x100, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
                  st.characters(min_codepoint=0x10000), st.characters(categories=("Cs",)), st.just("\x00"))
texts = st.text(chars, max_size=12)
values = st.one_of(texts, texts.map(Label), st.integers(), st.integers(-(2**40), 2**40).map(Count), st.booleans(),
                   st.none(), st.floats(allow_nan=False), st.binary(max_size=4))


@settings(max_examples=500, deadline=None)
@given(texts)
def test_a_surrogate_is_found_where_the_search_finds_one(s: str) -> None:
    assert _has_surrogate(s) == bool(SURROGATE.search(s))
    assert (text_problem(s) is None) == ("\x00" not in s and not SURROGATE.search(s))


def test_every_code_point_is_judged_as_the_search_judges_it() -> None:
    for c in range(0x110000):
        for s in (chr(c), "日" + chr(c), "\U0001F525" + chr(c)):
            assert _has_surrogate(s) == bool(SURROGATE.search(s)), hex(c)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(values, min_size=1, max_size=6), min_size=1, max_size=8), st.booleans())
def test_the_quick_pass_suspects_what_the_plain_pass_suspected(rows: list[list[Any]], as_arrays: bool) -> None:
    if as_arrays:  # PostgreSQL's column arrays: one row of lists (and scalars)
        rows = [[r if i % 2 else r[0] for i, r in enumerate(rows)]]
    flat = _values([tuple(r) for r in rows])
    plain = [i for v in flat for i in (v if isinstance(v, list) else (v,))]
    assert flat == plain
    assert _suspect(flat) == reference_suspect(plain)
