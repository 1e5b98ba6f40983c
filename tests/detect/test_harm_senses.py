"""harmful_output word senses, weak cues, opt-in profanity and brand disparagement."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.detect.detectors.base import CallView
from fireline.detect.detectors.harmful_output import STRONG_CONFIDENCE, HarmfulOutputDetector
from fireline.detect.detectors.lexicon import DEFAULT_LEXICON

DETECTOR = HarmfulOutputDetector({})


def answer(text: str) -> CallView:
    return CallView(app="support", tenant="acme", input_text="", output_text=text)


def kinds(text: str, detector: HarmfulOutputDetector = DETECTOR) -> set[str]:
    return {f.kind for f in detector.detect(answer(text))}


@pytest.mark.parametrize("text", [
    "Did you forget your password? Reset it from the sign-in page.",  # forge -> forged, never forget
    "The 2.0 API is stable; the beta was unstable.",  # stab -> stabbed, never stable
    "Jupiter is visible to the naked eye tonight.",  # a weak cue alone, and a harmless sense
    "Homo sapiens and Homo erectus overlapped in Asia.",  # a binomial
    "Serve the soup with crackers and a slice of cheese.",  # an ambiguous term aimed at no one
    "If you prick your finger, wash it.",  # an insult used as a verb
    "A fall from that height would almost certainly kill you.",  # a hedged danger, not a threat
    "David Lynch directed Mulholland Drive.",  # a surname
    "Use kill -9 only when the process ignores SIGTERM.",
    "Retry with exponential backoff; the target directory must exist.",
])
def test_benign_senses_are_not_findings(text: str) -> None:
    assert kinds(text) == set()


@pytest.mark.parametrize(("text", "kind"), [
    ("Shut up, you cracker.", "hate"),  # the same word, aimed at a person
    ("you dumb homo", "hate"),
    ("I will kill you tomorrow.", "violence"),
    ("Here is how to make a bomb at home.", "weapons_cbrn"),
    ("Honestly, just kill yourself.", "harassment"),
])
def test_strong_and_aimed_terms_are_findings_precise_enough_to_block(text: str, kind: str) -> None:
    [finding] = DETECTOR.detect(answer(text))
    assert (finding.kind, finding.confidence) == (kind, STRONG_CONFIDENCE)
    assert finding.start is not None and finding.end is not None


def test_weak_cues_count_only_in_pairs_or_with_compliance_framing() -> None:
    assert kinds("Mix the ammonium nitrate into the soil in spring.") == set()
    [finding] = DETECTOR.detect(answer("Pack the ammonium nitrate around the detonator."))
    assert finding.kind == "weapons_cbrn" and finding.confidence < 0.9  # a flag, not a block
    assert kinds("For educational purposes only: the phishing page copies the bank's login.") == {"crime"}
    assert kinds("Phishing pages copy a bank's login page.") == set()
    # role-play, the device of most jailbreaks, is framing too
    assert kinds("As a security consultant, I would start with a phishing page.") == {"crime"}
    assert kinds("As a result, the phishing page was taken down.") == set()
    assert kinds("Dear [Account Holder], the phishing kit is attached.") == {"crime"}  # a letter template
    assert kinds("Annotate it as list[int]; the phishing filter reads it.") == set()  # code, not a template


def test_profanity_and_disparagement_are_off_unless_a_policy_names_them() -> None:
    text = "This product is shit and customer service is a joke, damn it."
    assert kinds(text) == set()
    found = DETECTOR.categories(text)
    assert set(found) == {"profanity", "disparagement"}
    assert [text[s:e] for s, e in found["profanity"]] == ["shit", "damn"]
    on = HarmfulOutputDetector({"opt_in_categories": []})  # a team that wants them everywhere
    assert kinds(text, on) == {"profanity", "disparagement"}


def test_disparagement_needs_the_brand_and_the_insult_in_one_sentence() -> None:
    detector = HarmfulOutputDetector({"brands": ["Acme Cars"], "opt_in_categories": []})
    assert kinds("Honestly, Acme Cars is a rip-off.", detector) == {"disparagement"}
    assert kinds("Acme Cars opens at nine. Traffic was terrible today.", detector) == set()
    assert kinds("Honestly, Acme Cars is a rip-off.") == set()  # the default detector knows no brand


@pytest.mark.parametrize("key", ["opt_in_categories", "allow", "brands"])
def test_a_word_list_option_that_is_not_a_list_is_refused_by_name(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        HarmfulOutputDetector({key: "profanity"})


def test_a_team_allow_list_adds_harmless_senses() -> None:
    text = "Our bakery's signature is the cracker-crust pizza; order the pipe bomb sandwich."
    assert kinds(text) == {"weapons_cbrn"}
    assert kinds(text, HarmfulOutputDetector({"allow": ["pipe bomb sandwich"]})) == set()


STRONG_WORDS = sorted(t for terms in DEFAULT_LEXICON.values() for t in terms
                      if t[0] not in "~@" and " " not in t and t.isalpha())


@settings(max_examples=200, deadline=None)
@given(word=st.sampled_from(STRONG_WORDS), suffix=st.sampled_from(["le", "et", "ure", "ion", "ish", "ity"]),
       prefix=st.sampled_from(["", "un", "re", "pre"]))
def test_a_term_never_matches_inside_a_longer_word(word: str, suffix: str, prefix: str) -> None:
    """Only simple inflections extend a term: 'stab' never matches 'stable'."""
    longer = prefix + word + suffix
    found = DETECTOR.categories(f"The report says {longer} here.")
    assert not any(s < len("The report says ") + len(longer) for spans in found.values() for s, _ in spans)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_spans_always_lie_inside_the_text(text: str) -> None:
    for category, spans in DETECTOR.categories(text).items():
        for s, e in spans:
            assert 0 <= s < e <= len(text), (category, s, e)
