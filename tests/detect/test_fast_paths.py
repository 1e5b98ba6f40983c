"""The hot path's shortcuts answer exactly what the plain version answered.

The claim-support check (grounding) caches each retrieved document's index, reads the user's
words only when a claim is missing from the documents, and runs its number pattern only next to
digits; these properties hold it to the straightforward implementation it replaced, on generated
answers, documents and questions rich in numbers, units, currency, policy words and names.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.detect.detectors import CallView, Finding, support
from fireline.detect.detectors.base import evidence

WORDS = ["30", "90", "1,000", "2.5", "$350", "€20", "20%", "days", "day", "months", "business", "thirty",
         "two", "Two", "ninety", "forty-five", "refund", "refunds", "Refundable", "waiver", "eligible",
         "Acme Corp", "Bank of America", "NASA", "FAQ", "I", "the", "policy", "within", "[kb-7]",
         "(source: kb-2)", "【doc-1】", "\n", ".", ",", " ", "a90", "x.5", "(", ")", "£ 5", "$ 7"]
texts = st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join) | st.text(
    alphabet=st.sampled_from(list("0123456789 ,.$€%£abdyTsAaN\n([])")), max_size=80)


def reference_check(call: CallView) -> list[Finding]:
    """The claim-support check as it was written first: every text scanned with plain patterns."""
    spelled = re.compile(r"\b(" + "|".join(sorted(support._NUMBER_WORDS, key=len, reverse=True))
                         + r")\b\s?([A-Za-z%]+)?", re.IGNORECASE)
    policy = re.compile(r"\b(" + "|".join(re.escape(p) for p in support._POLICY) + r")\w*", re.IGNORECASE)
    entity = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:of|de|la|the|and|&)?\s*[A-Z][a-z]+)+|[A-Z]{3,}\b)")

    def numbers(text: str) -> list[tuple[str, str | None, int, int]]:
        out = []
        for m in support._NUM.finditer(text):
            currency, whole, frac, after = m.groups()
            value = whole.replace(",", "") + (f".{frac}" if frac else "")
            unit = support._UNITS.get((after or "").lower()) or (
                {"$": "$", "€": "€", "£": "£"}.get(currency or "") if currency else None)
            out.append((value.lstrip("0") or "0", unit, m.start(), m.end()))
        return out

    def doc_numbers(text: str) -> tuple[set[str], dict[str, set[str]]]:
        values: set[str] = set()
        by_unit: dict[str, set[str]] = {}
        for value, unit, _, _ in numbers(text):
            values.add(value)
            if unit:
                by_unit.setdefault(unit, set()).add(value)
        for m in spelled.finditer(text):
            value = str(support._NUMBER_WORDS[m.group(1).lower()])
            values.add(value)
            unit = support._UNITS.get((m.group(2) or "").lower())
            if unit:
                by_unit.setdefault(unit, set()).add(value)
        return values, by_unit

    def sentence_start(text: str, pos: int) -> bool:
        before = text[:pos].rstrip()
        return not before or before[-1] in ".!?:\n-*"

    docs = [str(d.get("text")) for d in call.retrieval if isinstance(d.get("text"), str) and d.get("text")]
    answer = call.output_text
    if not docs or not answer:
        return []
    source = "\n".join(docs)
    low_source, low_given = source.lower(), call.input_text.lower()
    # Each document is read on its own: a number at the end of one never takes its unit from the
    # start of the next (the joined text did that; the per-document index is the intended reading).
    values: set[str] = set()
    by_unit: dict[str, set[str]] = {}
    for doc in docs:
        doc_values, doc_units = doc_numbers(doc)
        values |= doc_values
        for unit, vals in doc_units.items():
            by_unit.setdefault(unit, set()).update(vals)
    given_values, _ = doc_numbers(call.input_text)
    found: list[Finding] = []

    def add(kind: str, start: int, end: int, why: str, confidence: float) -> None:
        if len(found) < support.MAX_FINDINGS:
            found.append(Finding(detector="grounding", kind=kind, severity="P2", confidence=confidence,
                                 location="output", start=start, end=end,
                                 evidence=f"{why}: {evidence(answer, start, end)}"))

    for value, unit, start, end in numbers(answer):
        if value in given_values or support._inside_citation(answer, start):
            continue
        if unit and unit in by_unit and value not in by_unit[unit]:
            add("contradicted_claim", start, end, f"the documents give other {unit} figures", 0.8)
        elif value not in values:
            add("unsupported_claim", start, end, "number not in the retrieved text", 0.7)
    for m in policy.finditer(answer):
        stem = m.group(1).lower()
        if stem not in low_source and stem not in low_given:
            add("unsupported_claim", m.start(), m.end(), "policy term not in the retrieved text", 0.6)
    for m in entity.finditer(answer):
        name = m.group(1)
        if name in support._NOT_ENTITIES or sentence_start(answer, m.start()) and " " not in name:
            continue
        if name.lower() not in low_source and name.lower() not in low_given:
            add("unsupported_claim", m.start(), m.end(), "name not in the retrieved text", 0.5)
    return found


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_numbers_are_found_where_the_plain_pattern_finds_them(text: str) -> None:
    assert [m.span() for m in support._number_matches(text)] == [m.span() for m in support._NUM.finditer(text)]


@settings(max_examples=400, deadline=None)
@given(answer=texts, docs=st.lists(texts, min_size=1, max_size=3), question=texts)
def test_claim_support_answers_as_the_plain_check_did(answer: str, docs: list[str], question: str) -> None:
    record: dict[str, Any] = {"app": "a", "input": [{"role": "user", "content": question}], "output": answer,
                              "retrieval": [{"id": f"kb-{i}", "text": d} for i, d in enumerate(docs)]}
    view = CallView.from_record(record)
    assert support.SupportChecker().check(view, "grounding") == reference_check(view)
    # the same documents again come from the cache: same answer
    assert support.SupportChecker().check(CallView.from_record(record), "grounding") == reference_check(view)


def reference_corruption(text: str, lang_confidence: float | None = None) -> float:
    """output_quality's corruption score as first written (every pattern on every text)."""
    from fireline.detect.detectors import output_quality as oq

    sample = text[:oq.SAMPLE]
    n = len(sample)
    if n < 20:
        return 0.0
    score = 0.0
    bad = len(oq._CONTROL.findall(sample)) + len(oq._MOJIBAKE.findall(sample)) * 2
    if bad:
        score = max(score, min(1.0, bad / max(n / 100, 1) / 3))
    words = sample.split()
    if not words:
        return score
    if len(words) >= 20:
        distinct = len(set(words)) / len(words)
        if distinct < 0.25:
            score = max(score, min(1.0, (0.25 - distinct) * 6 + 0.5))
    prose = oq._CODE.sub(" ", sample) if ("`" in sample or "://" in sample) else sample
    latin = len(oq._LATIN_WORD.findall(prose))
    if latin >= 10:
        frac = len(oq._NO_VOWEL.findall(prose)) / latin
        if frac > 0.15:
            score = max(score, min(1.0, frac * 2.0))
    if not sample.isascii():
        letters = oq._WORD.findall(sample)
        mixed = sum(1 for w in letters if len(w) >= 3 and not w.isascii() and oq._mixed_script(w))
        if mixed:
            score = max(score, min(1.0, mixed / max(len(letters), 1) * 5))
    if lang_confidence is not None and n >= 80 and lang_confidence < 0.35:
        score = max(score, 0.5 + (0.35 - lang_confidence))
    return round(min(score, 1.0), 3)


garble = st.lists(st.sampled_from(["the", "strngth", "xkcd", "bcdfg", "rhythm", "Ãa", "\x07", "`code`",
                                   "http://x.io/zzzz", "word", "wörd", "слово", "mixеd", "12ab", "_x_", "\ufffd",
                                   " ", "\n", "qwrtp", "sky", "dry"]), max_size=120).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(text=garble | st.text(max_size=200), confidence=st.none() | st.floats(0, 1))
def test_corruption_score_is_the_plain_score(text: str, confidence: float | None) -> None:
    from fireline.detect.detectors.output_quality import corruption_score

    assert corruption_score(text, confidence) == reference_corruption(text, confidence)


# ---- prefilters: each may only skip work that could not have found anything ----

ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=200)


@settings(max_examples=400, deadline=None)
@given(text=garble.filter(str.isascii) | ASCII)
def test_ascii_word_counts_are_the_regex_counts(text: str) -> None:
    from fireline.detect.detectors import output_quality as oq

    latin = len(oq._ASCII_WORD.findall(text))
    assert oq._ascii_counts(text) == (latin, len(oq._ASCII_NO_VOWEL.findall(text)) if latin >= 10 else 0)


@settings(max_examples=300, deadline=None)
@given(text=ASCII.map(lambda t: t * 4), confidence=st.none() | st.floats(0, 1))
def test_corruption_score_of_ascii_text_with_control_characters_is_the_plain_score(
        text: str, confidence: float | None) -> None:
    from fireline.detect.detectors.output_quality import corruption_score

    assert corruption_score(text, confidence) == reference_corruption(text, confidence)


CLAIM_WORDS = ["Refund", "REFUNDS", "reImbursed", "Free Of Charge", "free  of charge", "NON-REFUNDABLE", "waiv",
               "Credit", "lifetime", "Acme", "Corp", "Bank", "of", "the", "and", "&", "America", "NASA", "FAQ",
               "Ab", "AB", "ABC", "x", "I", "Is", "de", "La", "Ünïcode", "ſ", "K", " ", "  ", "\t", "\n", "\x0b",
               "\x0c", "\r", "\x1c", "\x1f", "\x85", "\xa0", ".", ",", "-", "_", "1"]
claim_texts = st.lists(st.sampled_from(CLAIM_WORDS), max_size=30).map("".join) | ASCII


@settings(max_examples=600, deadline=None)
@given(text=claim_texts)
def test_claim_prefilters_pass_every_text_the_patterns_match(text: str) -> None:
    if not text.isascii():
        return  # the prefilters are skipped for these: the patterns run as before
    if support._POLICY_RX.search(text):
        assert support._POLICY_HINT.search(text.lower())
    if support._ENTITY.search(text):
        assert support._ENTITY_ASCII.search(text)
    assert list(support._entities(text, text.encode("ascii"))) == list(support._entities(text))


REFUSAL_PARTS = ["Sorry, I can't help with that", "I'm sorry, but I cannot assist", "I’m sorry, we won't",
                 "I apologize, but I won't provide", "Apologies, I am unable to answer", "unfortunately, we cannot",
                 "As an AI language model, I", "This request violates", "your request goes against",
                 "against my guidelines", "I must decline", "I'm not going to help", "I can't wait",
                 "I cannot and will not", "I can't help but", "sorry to hear", "too much", "I", "i", "é", "É",
                 "ß", "ı", "İ", "ǅ", "_", "1", "'", "’", "the answer is 42", "help", "more"]
refusal_texts = st.lists(st.tuples(st.sampled_from(["", " ", "  ", "\n", ". ", ", ", "é", "_"]),
                                   st.sampled_from(REFUSAL_PARTS)), max_size=12).map(
    lambda parts: "".join(sep + part for sep, part in parts)) | st.text(max_size=120)


def reference_refusal(detector: Any, text: str) -> tuple[int, int] | None:
    """The refusal search without the RE2 prefilter: every `re` anchor of the head, in order."""
    from fireline.detect.detectors import refusal

    head = text[: detector.max_offset + 200].lower()
    for a in refusal._ANCHOR.finditer(head):
        m = detector._pattern.match(head, a.start())
        if m is None:
            continue
        if m.start() > detector.max_offset:
            return None
        if detector._exception.search(head[m.start() : m.end() + 40]):
            continue
        return m.start(), m.end()
    return None


@settings(max_examples=600, deadline=None)
@given(text=refusal_texts, offset=st.sampled_from([0, 5, 400]))
def test_refusal_prefilter_finds_what_the_plain_search_finds(text: str, offset: int) -> None:
    from fireline.detect.detectors.refusal import RefusalDetector

    detector = RefusalDetector({} if offset == 400 else {"max_offset": offset})
    assert detector.find(text) == reference_refusal(detector, text)


def corpus_texts() -> list[str]:
    """Answers and prompts of the shared corpora: TruthfulQA, presidio-research, PAIR."""
    from tests.detect import corpora

    qa = corpora.load_csv("TruthfulQA/TruthfulQA.csv")
    pii = corpora.load_json("presidio-research/synth_dataset_v2.json")
    pair = corpora.load_json("jailbreakbench-artifacts/PAIR/gpt-3.5-turbo-1106.json")["jailbreaks"]
    texts = ([f"{r['Best Answer']} {r['Correct Answers']}" for r in qa] + [d["full_text"] for d in pii]
             + [j["response"] for j in pair] + [j["prompt"] for j in pair])
    return [t for t in texts if t]


def test_every_corpus_text_gets_the_plain_answers() -> None:
    from fireline.detect.detectors import output_quality as oq
    from fireline.detect.detectors.refusal import RefusalDetector

    refusal = RefusalDetector({})
    for text in corpus_texts():
        assert refusal.find(text) == reference_refusal(refusal, text)
        assert oq.corruption_score(text) == reference_corruption(text)
        if text.isascii():
            assert bool(support._POLICY_RX.search(text)) <= bool(support._POLICY_HINT.search(text.lower()))
            assert list(support._entities(text, text.encode("ascii"))) == list(support._entities(text))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), fragments=st.lists(refusal_texts | claim_texts, max_size=3))
def test_corpus_texts_spliced_with_fragments_get_the_plain_answers(data: Any, fragments: list[str]) -> None:
    from fireline.detect.detectors.refusal import RefusalDetector

    texts = _corpus()
    text = data.draw(st.sampled_from(texts))
    cut = data.draw(st.integers(0, len(text)))
    text = text[:cut] + "".join(fragments) + text[cut:]
    refusal = RefusalDetector({})
    assert refusal.find(text) == reference_refusal(refusal, text)
    question = fragments[0] if fragments else ""
    document = data.draw(st.sampled_from(texts))
    view = CallView.from_record({"app": "a", "input": [{"role": "user", "content": question}], "output": text,
                                 "retrieval": [{"id": "kb-1", "text": document}]})
    assert support.SupportChecker().check(view, "grounding") == reference_check(view)


_CORPUS: list[str] = []


def _corpus() -> list[str]:
    if not _CORPUS:
        _CORPUS.extend(corpus_texts())
    return _CORPUS


def reference_topic(text: str) -> int | None:
    """distribution.topic_bucket as first written (the regex's words, each encoded for its CRC)."""
    import zlib

    from fireline.detect import distribution as d

    counts: dict[int, int] = {}
    seen = 0
    for w in d._WORDS.findall(text[: d.TOPIC_CHARS].lower()):
        if w in d._STOP:
            continue
        b = zlib.crc32(w.encode()) % d.TOPIC_BUCKETS
        counts[b] = counts.get(b, 0) + 1
        seen += 1
        if seen >= d.TOPIC_WORDS:
            break
    best, most = None, 0
    for b, n in counts.items():
        if n > most or (n == most and best is not None and b < best):
            best, most = b, n
    return best


@settings(max_examples=500, deadline=None)
@given(text=garble | ASCII | st.text(max_size=300) | st.lists(st.sampled_from(
    ["about", "Refund", "order", "parcel", "naïve", "Straße", "x_y", "abc1def", "DAYS", "thanks", " ", "\n"]),
    max_size=60).map(" ".join))
def test_topic_bucket_is_the_plain_bucket(text: str) -> None:
    from fireline.detect.distribution import topic_bucket

    assert topic_bucket(text) == reference_topic(text)


PLAIN_ENTITY = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:of|de|la|the|and|&)?\s*[A-Z][a-z]+)+|[A-Z]{3,}\b)")


@settings(max_examples=600, deadline=None)
@given(text=claim_texts | texts)
def test_entity_pattern_finds_what_the_plain_pattern_finds(text: str) -> None:
    spans = [(m.start(), m.end(), m.group(1)) for m in support._ENTITY.finditer(text)]
    assert spans == [(m.start(), m.end(), m.group(1)) for m in PLAIN_ENTITY.finditer(text)]


VALUES = ["0", "1", "2", "5", "6", "7", "9", "11", "14", "20", "30", "40", "45", "60", "90", "100", "2024", "1.5",
          "350", "1000", "13"]


SPELLED_WORDS = ["one", "One", "ONE", "nine", "Nine", "forty-five", "Forty-Five", "five", "fortyfive", "ninety",
                 "thirty", "twenty", "hundred", "sixty", "Six", "SEVEN", "eleven", "fourteen", "days", "%",
                 "percent", "1", "9", "2024", " ", "  ", "-", "_", "é", "\n", ".", "a"]
spelled_texts = st.lists(st.sampled_from(SPELLED_WORDS), max_size=30).map("".join) | st.lists(
    st.sampled_from(SPELLED_WORDS), max_size=30).map(" ".join)


@settings(max_examples=600, deadline=None)
@given(question=texts | claim_texts | spelled_texts, values=st.lists(st.sampled_from(VALUES), max_size=6))
def test_given_values_answer_as_the_plain_set(question: str, values: list[str]) -> None:
    plain = support._doc_numbers(question)[0]
    given_words = support._Given(question)
    assert [given_words.has_value(v) for v in values] == [v in plain for v in values]


HITS = ["Anna Kowalczyk", "John Smith", "+1 415 555 0100", "4111 1111 1111 1111", "jane@example.com", "New York",
        "Nobel Prize", "90 days", "refund", "Bank of America", "123 Main Street", "10.0.0.1", "sk-abc123", " ", "(34)"]


@settings(max_examples=300, deadline=None)
@given(hits=st.lists(st.lists(st.sampled_from(HITS), min_size=1, max_size=3).map(" ".join) | st.text(max_size=30),
                     min_size=1, max_size=4))
def test_remembered_hit_redaction_is_the_plain_redaction(hits: list[str]) -> None:
    from fireline.detect.detectors import base
    from fireline.pii import redact

    for hit in hits + hits:  # the second time from the memo
        assert base._redacted_hit(hit) == redact(hit)[0]


TYPOGRAPHIC = st.lists(st.sampled_from(["the", "strngth", "xkcd", "bcdfg", "rhythm", "word", "sky", "dry", "qwrtp",
                                        "’", "“", "”", "—", "–", "…", "\xa0", "\u2028", "½", "²", "№", "€", "\ufffd",
                                        "Ã©", "é", "wörd", "ǅ", "٣", "_", "1", "`x’y`", "http://x.io/z’zz", "\x07", " ",
                                        "\n", "a’b", "cd—ef"]), max_size=150).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=TYPOGRAPHIC | TYPOGRAPHIC.map(lambda t: t.replace("", " ")), confidence=st.none() | st.floats(0, 1))
def test_corruption_score_of_text_with_typographic_punctuation_is_the_plain_score(
        text: str, confidence: float | None) -> None:
    from fireline.detect.detectors.output_quality import corruption_score

    assert corruption_score(text, confidence) == reference_corruption(text, confidence)
