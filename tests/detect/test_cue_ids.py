"""The cue-word pass of the identity-number scan finds exactly what a scan at every position finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.pii import ids

PIECES = ["passport", "Passport No", "driver's license", "DL", "id", "ID number", "tax id", "NHS", "national id",
          "identity card", "henkilötunnus", "Sécurité sociale", "numéro national", "codice fiscale", "dni", "nie",
          "X1234567L", "123456789", "AB 12 34 56", "A1B2C3D4", "12 345 678 90", "is", "my", "number", ":", "#",
          " ", "\n", "-", "é", "İ", "ß", "x", "id-3fa9c", "identification number", "license number"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map(" ".join)
       | st.lists(st.sampled_from(PIECES), max_size=30).map("".join) | st.text(max_size=80))
def test_cue_ids_equal_a_scan_at_every_position(text: str) -> None:
    expected = [(m.start(), m.end(), m.group("kind"), m.group("value")) for m in ids._CUE_ID.finditer(text)]
    got = [(m.start(), m.end(), m.group("kind"), m.group("value")) for m in ids.cue_ids(text)]
    assert got == expected


def test_a_cue_among_many_ids_is_still_found() -> None:
    text = " ".join(f"id-{i:x}" for i in range(300)) + " passport number X1234567 " + "id-ff " * 50
    assert [m.group("value") for m in ids.cue_ids(text)] == ["X1234567"]
