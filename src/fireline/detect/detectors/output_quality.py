"""output_quality: answers that are garbled or in another language than the question.

Per call, cheap, no baseline needed (the monitors compare rates against baselines):

- `garbled_output` (P2): a corruption score >= `threshold` (0.5). The score is the strongest of:
  replacement or control characters (mis-decoded bytes), mojibake pairs (UTF-8 read as Latin-1:
  "Ã©", "â€™"), letters of several scripts inside the same words (homoglyphs), many vowel-less
  Latin "words" outside code spans and URLs (random characters), a degenerate loop (few distinct
  words repeated), and a language identifier that cannot place a long text (confidence < 0.35).
- `wrong_language` (P2): the answer's language differs from the user's, both identified with
  confidence >= 0.7 on at least 40 characters each, unless the user asked for a translation.

`profile()` exposes the measurements (language, script, score, token estimate) so the distribution
monitors reuse them instead of measuring twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fireline.detect import language
from fireline.detect.detectors.base import CallView, Finding, option

_MOJIBAKE = re.compile(r"[\u00C2\u00C3][\u0080-\u00BF]|\u00E2\u20AC|\uFFFD")
_CODE = re.compile(r"`[^`]*`|\S+://\S+")  # code spans and URLs: identifiers, not prose
_CONTROL = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]")
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_WORD = re.compile(r"(?<![^\W\d_])[A-Za-z]{4,}(?![^\W\d_])")
_NO_VOWEL = re.compile(r"(?<![^\W\d_])[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{4,}(?![^\W\d_])")  # y counts as a vowel
# In ASCII text the letters are [A-Za-z], so `[A-Za-z]{4,}` finds exactly the maximal runs of 4+ (a
# shorter run cannot match from any of its positions): the same words without the lookarounds.
_ASCII_WORD = re.compile(r"[A-Za-z]{4,}")
# ... and of those, the ones without a vowel: maximal runs of 4+ consonants (one pass in C instead of
# a vowel test per word in Python).
_ASCII_NO_VOWEL = re.compile(r"(?<![A-Za-z])[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{4,}(?![A-Za-z])")
# Both counts without a regex stepping through every position (~15 us per 600 characters): the bytes
# are mapped to "c" (consonant), "v" (vowel, y included) or " " (anything else) by one translate in C,
# so a word is a run of c/v between spaces. With a space added at each end, each run of 4+ letters
# holds exactly one " cccc" once vowels are mapped to "c" too (runs never overlap), and the runs of
# 4+ consonants are the " c{4,}" followed by a space; `_ascii_counts` equals the two findall counts.
_CLASSES = bytes(ord("v") if chr(i) in "aeiouyAEIOUY" else ord("c") if chr(i).isascii() and chr(i).isalpha()
                 else ord(" ") for i in range(256))
_LETTERS = _CLASSES.replace(b"v", b"c")
_CONSONANT_RUN = re.compile(rb" c{4,}(?= )")


# The bytes `_CONTROL` matches, and every other byte: in ASCII text, deleting the others leaves the
# control characters (one translate in C instead of a regex stepping through every character).
_NOT_CONTROL = bytes(i for i in range(256) if not _CONTROL.match(chr(i)))


# A word character outside ASCII. Without one, the text's letters are ASCII's (its other characters are
# curly quotes, dashes, ellipses, symbols, spaces), so `_LATIN_WORD` and `_NO_VOWEL` find what they find
# with each of those characters read as "?", and no word mixes scripts.
_NON_ASCII_WORD_CHAR = re.compile(r"[^\W\x00-\x7f]")


def _ascii_counts(prose: str) -> tuple[int, int]:
    """(words of 4+ letters, those without a vowel) in ASCII text: len(_ASCII_WORD.findall(prose)) and,
    when the first is at least 10, len(_ASCII_NO_VOWEL.findall(prose)) (else 0). Text whose letters are
    all ASCII is read with every other character as "?" (no letter): `_LATIN_WORD` and `_NO_VOWEL`'s
    counts."""
    padded = b" " + prose.encode("ascii", "replace") + b" "
    latin = padded.translate(_LETTERS).count(b" cccc")
    return latin, len(_CONSONANT_RUN.findall(padded.translate(_CLASSES))) if latin >= 10 else 0


_TRANSLATE = re.compile(r"(?i)\b(translat\w*|übersetz\w*|tradu\w*|in (?:english|french|german|spanish|"
                        r"italian|portuguese|chinese|japanese|korean|russian|arabic|hindi|dutch))\b")
SAMPLE = 600
MIN_LANG_CHARS = 40
LANG_CONFIDENCE = 0.7
INPUT_SAMPLE = 120  # characters of the question identified (fastText costs grow with the text)


@dataclass(slots=True)
class Profile:
    """What the quality monitors read of one answer (and its question)."""

    output_language: str | None = None
    output_confidence: float = 0.0
    output_script: str = "none"
    input_language: str | None = None
    corruption: float = 0.0
    output_tokens_estimate: int = 0


def corruption_score(text: str, lang_confidence: float | None = None) -> float:
    """0 (clean) .. 1 (certainly corrupted) for the first 600 characters of an answer."""
    sample = text[:SAMPLE]
    n = len(sample)
    if n < 20:
        return 0.0
    score = 0.0
    ascii_only = sample.isascii()
    # Typographic punctuation (’ “ — …) makes most answers non-ASCII, not their letters.
    ascii_letters = ascii_only or _NON_ASCII_WORD_CHAR.search(sample) is None
    if ascii_letters:
        # len(_CONTROL.findall(sample)): the control characters are ASCII; of the mojibake, only U+FFFD
        # is no letter (Â, Ã and â are), so it is all `_MOJIBAKE` can find here.
        bad = len(sample.encode("ascii", "replace").translate(None, _NOT_CONTROL)) + sample.count("\ufffd") * 2
    else:
        bad = len(_CONTROL.findall(sample)) + len(_MOJIBAKE.findall(sample)) * 2
    if bad:
        score = max(score, min(1.0, bad / max(n / 100, 1) / 3))
    words = sample.split()
    if not words:
        return score
    # A third of the words distinct enough already says the whole is (its set holds theirs): the set of
    # every word is made only when it might not be (a repeated loop).
    if len(words) >= 20 and len(set(words[: len(words) // 3])) * 4 < len(words):
        distinct = len(set(words)) / len(words)
        if distinct < 0.25:
            score = max(score, min(1.0, (0.25 - distinct) * 6 + 0.5))
    prose = _CODE.sub(" ", sample) if ("`" in sample or "://" in sample) else sample
    if ascii_letters:
        latin, no_vowel = _ascii_counts(prose)
    else:
        latin = len(_LATIN_WORD.findall(prose))
        no_vowel = len(_NO_VOWEL.findall(prose)) if latin >= 10 else 0
    if latin >= 10:
        frac = no_vowel / latin
        if frac > 0.15:
            score = max(score, min(1.0, frac * 2.0))
    if not ascii_letters:
        letters = _WORD.findall(sample)
        mixed = sum(1 for w in letters if len(w) >= 3 and not w.isascii() and _mixed_script(w))
        if mixed:
            score = max(score, min(1.0, mixed / max(len(letters), 1) * 5))
    if lang_confidence is not None and n >= 80 and lang_confidence < 0.35:
        score = max(score, 0.5 + (0.35 - lang_confidence))
    return round(min(score, 1.0), 3)


def _mixed_script(word: str) -> bool:
    seen = {language.script_of(ch) for ch in word}
    seen.discard("none")
    return len(seen) > 1


def profile(output: str, user_text: str) -> Profile:
    p = Profile(output_tokens_estimate=(len(output) + 3) // 4)
    if not output:
        return p
    p.output_script = language.script_of(output)
    found = language.identify(output)
    if found is not None:
        p.output_language, p.output_confidence = found
    p.corruption = corruption_score(output, p.output_confidence if found is not None else None)
    if (found is not None and p.output_confidence >= LANG_CONFIDENCE and len(output) >= MIN_LANG_CHARS
            and len(user_text) >= MIN_LANG_CHARS):
        asked = language.identify(user_text[-INPUT_SAMPLE:])
        if asked is not None and asked[1] >= LANG_CONFIDENCE:
            p.input_language = asked[0]
    return p


class OutputQualityDetector:
    name = "output_quality"

    def __init__(self, config: dict[str, Any]) -> None:
        self.threshold = float(option(config, "threshold", 0.5))

    def detect(self, call: CallView) -> list[Finding]:
        text = call.output_text
        if not text:
            return []
        user = last_user_text(call)
        p = call.profile if isinstance(call.profile, Profile) else profile(text, user)
        call.profile = p
        out: list[Finding] = []
        if p.corruption >= self.threshold:
            out.append(Finding(detector=self.name, kind="garbled_output", severity="P2", confidence=p.corruption,
                               location="output", start=None, end=None,
                               evidence=f"corruption score {p.corruption:.2f}"))
        if (p.input_language and p.output_language and p.input_language != p.output_language
                and not _TRANSLATE.search(user)):
            out.append(Finding(detector=self.name, kind="wrong_language", severity="P2",
                               confidence=p.output_confidence, location="output", start=None, end=None,
                               evidence=f"asked in {p.input_language}, answered in {p.output_language}"))
        return out


def last_user_text(call: CallView) -> str:
    starts = call.message_starts
    if not starts:
        return call.input_text
    return call.input_text[starts[-1]:]
