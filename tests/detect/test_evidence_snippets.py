"""Finding evidence never shows a piece of a PII or secret span, even when a detector's hit (a
number, a word) falls inside one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fireline.detect.detectors.base import evidence
from fireline.pii import scan

words = st.lists(st.sampled_from(["the", "order", "shipped", "refund", "today", "42", "items"]), max_size=8)
tokens = st.text(alphabet="abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=10, max_size=24)


@given(before=words, after=words, token=tokens, kind=st.sampled_from(["password", "conn"]),
       at=st.floats(0, 1), width=st.integers(1, 4))
def test_a_hit_inside_a_secret_shows_only_its_label(before: list[str], after: list[str], token: str,
                                                    kind: str, at: float, width: int) -> None:
    secret = f"password={token}9" if kind == "password" else f"postgres://admin:{token}9@db.internal:5432/app"
    text = " ".join([*before, secret + ",", *after])
    spans = scan(text)
    start = text.index(secret)
    (entity, s, e), = [sp for sp in spans if sp[1] <= start + len(secret) - 2 and sp[2] > start + 10]
    hit = s + int(at * (e - s - width))
    snippet = evidence(text, hit, min(e, hit + width), None, spans)
    assert token not in snippet and f"<{entity}>" in snippet
