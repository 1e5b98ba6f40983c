"""refusal: the model declined to answer (English phrase families).

A rising refusal rate is a capability-loss incident (a prompt or model change made the
assistant refuse normal requests), so this detector only marks each refusing answer (kind
"refusal", P3); the monitor decides whether the rate is abnormal.

The phrases pair a first-person modal with a verb of helping ("I can't help with that", "I'm
sorry, but I cannot"), which keeps out the known look-alikes: "I'm sorry to hear that", "I
cannot stress enough", "I can't wait", "I can't help but notice".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import re2

from fireline.detect.detectors.base import CallView, Finding, evidence, option, word_list
from fireline.patterns import Pattern, compile_linear


def _linear(phrases: list[str], field: str) -> Pattern:
    for i, phrase in enumerate(phrases):
        compile_linear(phrase, f"{field}[{i}]")  # names the one RE2 refuses
    return compile_linear("|".join(f"(?:{p})" for p in phrases).lower(), field)

_AP = "['\u2019]"  # straight or curly apostrophe
_NEG = (
    rf"(?:can{_AP}?t|cannot|can not|won{_AP}t|will not|must not|am not able to|{_AP}m not able to|"
    rf"am unable to|{_AP}m unable to|am not allowed to|{_AP}m not allowed to|am not permitted to|"
    rf"{_AP}m not permitted to|do not feel comfortable|don{_AP}t feel comfortable|"
    rf"(?:must|have to|need to) (?:respectfully |politely )?decline to)"
)
_HELP_VERBS = (
    "help", "assist", "fulfill", "fulfil", "comply", "provide", "do that", "do this", "engage",
    "support", "create", "write", "generate", "answer", "complete", "participate", "process",
    "share", "give", "produce", "offer", "continue", "proceed", "respond", "discuss", "accommodate",
    "facilitate", "endorse", "condone", "promote", "encourage", "honor", "grant", "disclose",
)  # fmt: skip
DEFAULT_PHRASES = (
    # "I'm sorry, but I can't ...", "Sorry, I cannot ...", "I apologize, but I won't ..."
    rf"(?:I{_AP}m sorry|I am sorry|sorry|I apologi[sz]e|apologies|unfortunately)[,.!]? (?:but )?"
    rf"(?:I|we) {_NEG}(?! (?:wait|stress|emphasi[sz]e|believe|thank|help but|imagine)\b)",
    # "I can't help with that", "I cannot assist with", "I won't provide"
    rf"\bI {_NEG} (?:{'|'.join(_HELP_VERBS)})(?! but\b)",
    r"\bI (?:must|have to) (?:respectfully |politely )?decline\b",
    r"\bAs an AI(?: language model| assistant| model)?\b[^.\n]{0,60}\b(?:I|my)\b",
    r"\b(?:this|that|your) request (?:goes against|violates|is against|is not something I)",
    r"\bagainst (?:my|our|OpenAI's|the) (?:guidelines|policies|policy|programming|principles|ethical guidelines)",
    rf"\bI{_AP}m not going to (?:help|assist|provide|do|write|create|generate)",
    r"\bI (?:cannot|can't|can not) (?:and will not|and won't)\b",
)
# Look-alikes that contain a refusal phrase but are not refusals; checked on the phrase and
# the 40 characters after it.
DEFAULT_EXCEPTIONS = (
    r"\bhelp (?:but|it)\b",
    r"\b(?:enough|too much|more)\b[^.]{0,10}$",
)


# Every default phrase starts at one of these words. Finding the anchors first and trying the
# phrase regex only there is ~6x faster than searching with the phrase alternation itself.
_ANCHOR = re.compile(
    r"\b(?:i[ '’]|sorry|apolog|unfortunately|as an ai|this request|that request|your request|against)"
)
# The same anchors on RE2 (a DFA: ~3 us over 600 characters where `re` steps through every position
# for ~8 us), only to find where the first one can be: RE2's \b is ASCII, so it also stands between
# "é" and "i" where `re`'s does not, but never fails where `re`'s holds before these ASCII letters. So
# `re`'s first anchor is at or after RE2's, and an answer without an RE2 anchor has no `re` anchor.
_FIRST_ANCHOR = re2.compile(_ANCHOR.pattern)


class RefusalDetector:
    name = "refusal"

    def __init__(self, config: dict[str, Any]) -> None:
        # Our vetted defaults use lookaheads and run on `re`; phrases from the config run on RE2
        # (linear time) and are refused at start when RE2 cannot compile them.
        own = config.get("phrases") is None
        extra = word_list(config, "extra_phrases", [])
        self._anchored = own and not extra
        # Matching lowercased text with lowercased patterns is ~3x faster than re.IGNORECASE.
        self._patterns: list[Pattern] = []
        if own:
            self._patterns.append(re.compile("|".join(f"(?:{p})" for p in DEFAULT_PHRASES).lower()))
        configured = ([] if own else word_list(config, "phrases", [])) + extra
        if configured:
            self._patterns.append(_linear(configured, "detectors.refusal.phrases" if not own
                                          else "detectors.refusal.extra_phrases"))
        self._pattern = self._patterns[0] if self._patterns else re.compile("(?!)")
        self._exception: Pattern = (re.compile("|".join(f"(?:{p})" for p in DEFAULT_EXCEPTIONS).lower())
                                    if config.get("exceptions") is None else
                                    _linear(word_list(config, "exceptions", []), "detectors.refusal.exceptions"))
        # A refusal that starts the answer is certain; one deep in a long answer is a caveat.
        self.max_offset = int(option(config, "max_offset", 400))
        self.severity = str(option(config, "severity", "P3"))

    def find(self, text: str) -> tuple[int, int] | None:
        """Span of the first refusal phrase in the first `max_offset` characters, if any."""
        head = text[: self.max_offset + 200].lower()
        best: tuple[int, int] | None = None
        for pattern in self._patterns:
            hit = self._first(pattern, head)
            if hit is not None and (best is None or hit[0] < best[0]):
                best = hit
        return best

    def _first(self, pattern: Pattern, head: str) -> tuple[int, int] | None:
        candidates: Iterable[Any]
        if self._anchored:
            # An ASCII head is searched as bytes: the same offsets, without RE2's wrapper encoding the
            # text and mapping the match back to character offsets in Python.
            first = _FIRST_ANCHOR.search(head.encode("ascii") if head.isascii() else head)
            if first is None:
                return None
            candidates = (pattern.match(head, a.start()) for a in _ANCHOR.finditer(head, first.start()))
        else:
            candidates = pattern.finditer(head)
        for m in candidates:
            if m is None:
                continue
            if m.start() > self.max_offset:
                return None
            if self._exception.search(head[m.start() : m.end() + 40]):
                continue
            return m.start(), m.end()
        return None

    def detect(self, call: CallView) -> list[Finding]:
        hit = self.find(call.output_text)
        if hit is None:
            return []
        s, e = hit
        return [
            Finding(
                detector=self.name,
                kind="refusal",
                severity=self.severity,
                confidence=0.9 if s < 80 else 0.6,
                location="output",
                start=s,
                end=e,
                evidence=evidence(call.output_text, s, e, spans=call.scan_of(call.output_text)),
            )
        ]
