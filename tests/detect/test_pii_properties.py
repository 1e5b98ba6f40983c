"""Property tests for the validators and the scanner: checksums, offsets, no leaks, no crashes."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.pii import PII_TYPES, SECRET_TYPES, redact, scan
from fireline.pii.validators import IBAN_LENGTHS, card_ok, iban_ok, luhn_ok


def luhn_complete(body: str) -> str:
    """body + the check digit that makes it Luhn-valid."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("no check digit")


def iban_complete(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


digits = st.text(alphabet=string.digits, min_size=11, max_size=17)


@given(digits)
def test_luhn_check_digit_validates_and_any_single_digit_change_breaks_it(body: str) -> None:
    number = luhn_complete(body)
    assert luhn_ok(number)
    for i in range(len(number)):
        changed = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
        assert not luhn_ok(changed)


@given(st.sampled_from(sorted(IBAN_LENGTHS)), st.data())
def test_iban_with_computed_check_digits_validates_and_a_changed_digit_does_not(country: str, data) -> None:
    n = IBAN_LENGTHS[country] - 4
    bban = data.draw(st.text(alphabet=string.digits, min_size=n, max_size=n))
    iban = iban_complete(country, bban)
    assert iban_ok(iban)
    assert iban_ok(" ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower())
    i = data.draw(st.integers(4, len(iban) - 1))
    assert not iban_ok(iban[:i] + str((int(iban[i]) + 1) % 10) + iban[i + 1 :])
    assert not iban_ok(iban + "0")


@given(st.text(max_size=400))
@settings(max_examples=300)
def test_scan_never_raises_and_spans_are_sorted_disjoint_and_in_bounds(text: str) -> None:
    spans = scan(text)
    last_end = 0
    for entity, s, e in spans:
        assert entity in PII_TYPES | SECRET_TYPES
        assert last_end <= s < e <= len(text)
        last_end = e


noise = st.text(alphabet=string.ascii_letters + " ,.;!?\n", max_size=40)
cards = st.text(alphabet=string.digits, min_size=15, max_size=15).map(lambda b: luhn_complete("4" + b))
emails = st.tuples(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10),
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10),
).map(lambda t: f"{t[0]}@{t[1]}.com")


@given(noise, st.one_of(cards, emails), noise)
@settings(max_examples=300)
def test_redact_hides_the_value_and_reports_original_offsets(before: str, value: str, after: str) -> None:
    text = f"{before} {value} {after}"
    redacted, spans = redact(text)
    assert value not in redacted
    assert any(text[s:e] == value for _, s, e in spans)
    # Rebuilding from the spans gives back the redacted text: offsets are in the original.
    rebuilt, pos = [], 0
    for entity, s, e in spans:
        rebuilt += [text[pos:s], f"<{entity}>"]
        pos = e
    assert "".join(rebuilt) + text[pos:] == redacted


@given(st.text(alphabet=string.digits + " -", max_size=30))
def test_card_ok_only_accepts_luhn_valid_numbers(raw: str) -> None:
    compact = raw.replace(" ", "").replace("-", "")
    if compact and card_ok(compact):
        assert luhn_ok(compact) and 12 <= len(compact) <= 19


# The scan's digit runs and number candidates, found without a full-text regex, are the regex's.
NUMBERY = st.lists(st.sampled_from(["4111 1111 1111 1111", "+1 (415) 555-0134", "078-05-1120", "10.0.0.1", "12",
                                    "1234567", "DE89 3704 0044 0532 0130 00", "x", "ab", " ", "-", "(", ")", ".",
                                    "+", "\n", "é", "٣", "²", "0", "99"]), max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(NUMBERY, st.text(max_size=200), st.text(alphabet="0123456789 .-+()ab", max_size=200)))
def test_digit_runs_and_numeric_candidates_are_the_regex_ones(text: str) -> None:
    from fireline.pii import scanner
    from fireline.pii.text import _DIGITS, Text, digit_runs

    assert digit_runs(text) == [m.span() for m in _DIGITS.finditer(text)]
    # _validated as first written: the number pattern over the whole text
    t, reference = Text(text), []
    if "@" in text:
        scanner._emails(text, reference)
    for m in scanner._NUMERIC.finditer(text):
        scanner._classify_numeric(text, m.start(), m.end(), reference)
    if "::" in text or text.count(":") >= 3:
        scanner._ipv6(text, reference)
    reference.extend(scanner.find_secrets(text))
    found: list[tuple[str, int, int]] = []
    scanner._validated(t, found)
    assert found == reference


CUE_TEXTS = st.lists(st.sampled_from(["zip", "Postal", "post code", "PLZ", "postcod",
                                      "my name is", "Joined", "works at", "passport", "ID", "id", "idx", "DL",
                                      "dl.", "national", "Germans", "swiss", "Mr.", "Dr", "CEO of", "licence",
                                      "NHS", "steuer", "Anna", "Kowalczyk", "1990", "é", "ß", "-", " ", "\n",
                                      ".", "x"]), max_size=25).map(" ".join) | st.text(max_size=120)


@settings(max_examples=500, deadline=None)
@given(CUE_TEXTS)
def test_one_gate_set_pass_answers_as_each_gate_and_the_scan_is_unchanged(text: str) -> None:
    from fireline.pii import address, entities, ids, scanner
    from fireline.pii.text import ID_CUES, NAME_CUES, ZIP_CUES, Text

    low = Text(text).low
    gates = scanner._GATES.Match(low) or ()
    assert (NAME_CUES in gates) == (entities._CUES.search(low) is not None)
    assert (ID_CUES in gates) == (ids._CUE_GATE.search(low) is not None)
    assert (ZIP_CUES in gates) == any(w in low for w in ("zip", "postal", "postcode", "post code", "plz"))
    assert (ZIP_CUES in gates) == (address._ZIP_GATE.search(low) is not None)
    with_set = scan(text)
    scanner._GATES, kept = None, scanner._GATES  # each pass searches its own gate, as before
    try:
        assert scan(text) == with_set
    finally:
        scanner._GATES = kept


CUE_WORDS = st.lists(st.sampled_from([
    "my name is", "kill  yourself", "kill\tyourself", "\x0b", "\x1c", "dear", "named", "namedtuple", "work for",
    "works at", "ms", "msg", "dr", "english", "englishes", "french", "job at", "call me", "ceo of", " ", ".", ",", "\n",
    "x", "Ann", "é", "İ"]), max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(CUE_WORDS, st.text(max_size=120)))
def test_patterns_match_ascii_text_read_as_bytes_where_they_match_the_text(text: str) -> None:
    from fireline.detect.detectors.senses import terms_of
    from fireline.patterns import matches
    from fireline.pii import entities

    low = text.lower()
    terms = terms_of({"kill yourself": None, "work for": None, "dr*": None, "call me": None})._pattern
    for pattern in (entities._CUES, terms):  # the cue phrases, and harm terms with \s+ between words
        assert list(matches(pattern, low)) == [(m.group(), m.start(), m.end()) for m in pattern.finditer(low)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(CUE_WORDS, st.text(alphabet="ax .\n", max_size=60)))
def test_matches_steps_past_empty_matches_as_the_wrapper_does(text: str) -> None:
    import re2

    from fireline.patterns import matches

    for pattern in (re2.compile(r"x*"), re2.compile(r"\b"), re2.compile(r"a+|\s?")):
        if text.isascii():
            reference = [(m.group().decode(), m.start(), m.end()) for m in pattern.finditer(text.encode())]
        else:
            reference = [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]
        assert list(matches(pattern, text)) == reference
