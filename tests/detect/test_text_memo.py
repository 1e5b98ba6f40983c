"""What is remembered by text answers exactly what the work answers afresh.

The privacy pass (`calls.privacy.redact_seen`) and language identification (`detect.language.identify`)
keep recent results by a keyed digest of the text (`fireline.memo`). These properties hold them to the
plain version, every text at least twice (cold, then from the memo), in any order, across a memo
emptied in between, on generated texts rich in personal data and on the shared corpora; and the memo
keeps no text.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline import pii
from fireline.calls import privacy
from fireline.detect import language
from fireline.memo import TextMemo

from .corpora import load_csv, load_json
from .test_pii_properties import luhn_complete

PIECES = ["Anna Kowalczyk", "(34)", "lives at", "17 Rue de la Paix, Paris", "call", "phone", "+1 415 555 0142",
          "0490 75 40 81", "jane.doe@example.com", "IBAN DE89 3704 0044 0532 0130 00", "on 12/05/2020",
          "password: hunter2hunter2", "sk-live-0123456789abcdefABCDEF", "10.0.0.7", "Dr.", "Mr", "Smith",
          "Ihre Bestellung wurde versandt", "votre commande", "您的订单已发出", "Thanks", "The", "and", ",", ".",
          ":", "\n", "  ", "<PERSON>", "<PHONE_NUMBER>", "Ã©", "\ufffd"]
cards = st.text(alphabet=string.digits, min_size=15, max_size=15).map(lambda b: luhn_complete("4" + b))
texts = (st.lists(st.sampled_from(PIECES) | cards, max_size=30).map(" ".join)
         | st.text(max_size=200).filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)))


def plain_identify(text: str) -> tuple[str, float] | None:
    """`identify` without the memo: the model asked every time."""
    sample = text[:language.SAMPLE].replace("\n", " ").strip()
    if len(sample) < 3:
        return None
    return language.predict(language._model(), sample)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), st.booleans())
def test_the_privacy_pass_from_its_memo_is_the_pass(batch: list[str], empty_first: bool) -> None:
    if empty_first:
        privacy.SEEN.clear()
    for text in batch + batch[::-1]:
        assert privacy.redact_seen(text) == pii.redact_scanned(text)


@pytest.mark.skipif(not language.available(), reason="fastText model not installed")
@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), st.booleans())
def test_language_from_its_memo_is_the_models_answer(batch: list[str], empty_first: bool) -> None:
    if empty_first:
        language.SEEN.clear()
    for text in batch + batch[::-1]:
        assert language.identify(text) == plain_identify(text)


def _content(question: str, answer: str, history: list[str]) -> dict[str, Any]:
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": h} for i, h in enumerate(history)]
    return {"system_prompt": "You answer briefly.", "input": [*turns, {"role": "user", "content": question}],
            "output": answer, "retrieval": [], "tool_calls": [
                {"name": "send_email", "kind": "write", "arguments": {"to": "ops@example.com", "body": answer}}],
            "guardrails": [], "metadata": {}}


def test_a_conversation_redacted_again_is_redacted_the_same() -> None:
    """Each turn re-sends the ones before: the second time, every message comes from the memo."""
    sentences = [d["full_text"] for d in load_json("presidio-research/synth_dataset_v2.json")[:120]]
    qa = load_csv("TruthfulQA/TruthfulQA.csv")[:60]
    privacy.SEEN.clear()
    history: list[str] = []
    for i, row in enumerate(qa):
        content = _content(sentences[i], f"{row['Best Answer']} {sentences[i + 60]}", history)
        first, red1 = privacy.redact_content(content)
        privacy.SEEN.clear()
        fresh, red2 = privacy.redact_content(content)  # all cold
        again, red3 = privacy.redact_content(content)  # all from the memo
        assert first == fresh == again
        assert red1.spans == red2.spans == red3.spans and red1.scanned == red2.scanned == red3.scanned
        assert red1.changed == red2.changed == red3.changed
        history += [sentences[i], row["Best Answer"]]


@pytest.mark.skipif(not language.available(), reason="fastText model not installed")
def test_language_from_its_memo_on_truthfulqa() -> None:
    rows = load_csv("TruthfulQA/TruthfulQA.csv")[:300]
    language.SEEN.clear()
    for _ in range(2):
        for r in rows:
            for text in (r["Question"], r["Best Answer"], r["Correct Answers"][-120:]):
                assert language.identify(text) == plain_identify(text)


def test_the_memo_keeps_no_text_and_stays_bounded() -> None:
    memo: TextMemo[int] = TextMemo(limit=8)
    texts = [f"Anna Kowalczyk, jane.doe{i}@example.com, lives at 17 Rue de la Paix" for i in range(30)]
    for i, text in enumerate(texts):
        memo.put(memo.key(text), i)
        assert len(memo) <= 8
        assert memo.get(memo.key(text)) == i
    assert all(isinstance(k, bytes) and len(k) == 16 for k in memo._seen)
    assert not any(b"Anna" in k or b"example" in k for k in memo._seen)
    assert memo.key("a") != memo.key("b") and memo.key("\ud800") == memo.key("\ud800")


def test_repeating_texts_are_remembered_redacted_and_by_digest() -> None:
    """A system prompt's redaction is remembered for the next call, but the raw prompt is not kept."""
    prompt = "You assist Anna Kowalczyk (jane.doe@example.com) with her orders."
    privacy._REPEATS.clear()
    first = privacy.redact_repeating(prompt)
    assert first == pii.redact(prompt) and "jane.doe@example.com" not in first[0]
    assert privacy.redact_repeating(prompt) == first
    kept = list(privacy._REPEATS._seen.items())
    assert len(kept) == 1
    key, (redacted, _spans) = kept[0]
    assert isinstance(key, bytes) and b"jane.doe" not in key and "jane.doe" not in redacted
