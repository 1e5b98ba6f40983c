"""Language identification answers from its cache exactly what the model answers.

`language.identify` keeps recent results by a digest of the identified sample; these properties hold
it to a prediction made afresh for every text (in any order, repeated, across a cache reset), on
generated texts and on the shared corpora's questions and answers.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.detect import language

from .corpora import load_csv

pytestmark = pytest.mark.skipif(not language.available(), reason="fastText model not installed")

WORDS = ["Your", "order", "shipped", "yesterday", "Ihre", "Bestellung", "wurde", "versandt", "votre",
         "commande", "est", "partie", "su", "pedido", "ha", "sido", "enviado", "заказ", "отправлен",
         "您的订单已发出", "注文", "ok", "?", "!", "1042", "\n", "  ", "Ã©", "\ufffd", "zzkrtq"]
texts = st.lists(st.sampled_from(WORDS), max_size=60).map(" ".join) | st.text(max_size=260).filter(
    lambda t: not any("\ud800" <= c <= "\udfff" for c in t))


def plain(text: str) -> tuple[str, float] | None:
    """`identify` as it was before the cache: the model asked every time."""
    sample = text[:language.SAMPLE].replace("\n", " ").strip()
    if len(sample) < 3:
        return None
    return language.predict(language._model(), sample)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8), st.booleans())
def test_identify_with_the_cache_answers_what_the_model_answers(batch: list[str], reset: bool) -> None:
    if reset:
        language._SEEN.clear()
    for text in batch + batch[::-1]:  # every text at least twice: once cold (or not), once from the cache
        assert language.identify(text) == plain(text)


def test_identify_keeps_no_text_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "_SEEN_MAX", 8)
    language._SEEN.clear()
    samples = [f"Order {i} left the warehouse yesterday and arrives soon." for i in range(30)]
    for text in samples:
        assert language.identify(text) == plain(text)
        assert len(language._SEEN) <= 8
    assert all(isinstance(k, bytes) and len(k) == 16 for k in language._SEEN)
    assert not any(text[:10] in repr(language._SEEN) for text in samples)


def test_identify_matches_the_model_on_truthfulqa() -> None:
    rows = load_csv("TruthfulQA/TruthfulQA.csv")[:300]
    language._SEEN.clear()
    for _ in range(2):
        for r in rows:
            for text in (r["Question"], r["Best Answer"], r["Correct Answers"][-120:]):
                assert language.identify(text) == plain(text)
