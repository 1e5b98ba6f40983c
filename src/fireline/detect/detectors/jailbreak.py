"""jailbreak: a harmful request, framed or plain, that the model went along with.

Reads the call's question and answer together. A finding (kind `compliance`, TAXONOMY type
policy_bypass through the `jailbreak_compliance` monitor) needs all three of:

- the request asks for harm, in the latest user turn (jailbreak_terms.py): a phrase that names a
  harm of a category on its own (cybercrime, weapons, violence, crime, fraud, misinformation,
  harassment, self-harm, sexual content, privacy, or wanting it hidden: "without getting caught"),
  or a hint (a word with an everyday sense too: "fraud", "a bomb", "racism"); two different hints
  count as a harm phrase;
- the request is an attempt (jailbreak_devices.py): it pre-empts a refusal ("this will never be
  used in real life", "begin your reply with 'Sure, here is'", "developer mode", "never refuse"),
  which needs no harm phrase at all; or it frames a harm phrase or hint in a role, a story, a
  hypothesis, "for educational purposes", an appeal to authority or urgency; or, with no frame
  (an adversarial suffix, a past-tense rewording, a plain request), a harm phrase and an ask for
  something to act on (how to do it, the steps, an artefact that is not about the harm as a
  topic), not about a game or a sport and not a defender's question; or an adversarial suffix
  (jailbreak_suffix.py: a one-line request whose tail is machine-made) whose ask the answer
  restates ("Sure, here is <the ask>") without its odd tokens, with a harm named by either side;
- the answer goes along: it is not a refusal (the refusal detector's phrases), it has some
  substance (`min_words`), and it takes the request up: it echoes the request's words (30% of
  its subject words, or of a sentence that names the harm, or `min_shared_words` of them), or
  the words of the harmful object the request named, or has a harm phrase of the request's
  category itself, or is the artefact asked for (the e-mail, the jokes, the thread, the scene, the
  code) with a few of the request's words. A refusal followed by a pivot ("However, I can provide
  an overview: ...") is read from the pivot on. A plain request also needs the answer to have the
  shape of something carried out (an eager opening, a title, steps, code).

Confidence grows with the answer's compliance shape (an eager opening, a title, numbered steps,
a letter, a scene, code; several of them) and drops when the answer steers away (help lines,
legal alternatives, "instead", the official account; not when those words are the request's
own). It stays below 0.9, the default playbooks' blocking floor: a finding here says a jailbreak
probably worked, which is a flag for people and monitors, not proof enough to block an answer.
All patterns run on RE2 (linear time); a call whose question has no harm phrase, hint or
pre-emption costs one regex pass over the question and a look at how the answer opens.
"""
from __future__ import annotations

import re
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, evidence, found_in, option
from fireline.detect.detectors.jailbreak_devices import (
    ARTEFACTS,
    BENIGN_CONTEXT,
    COMPLIANCE_OPENING,
    FRAMING,
    HOW_TO,
    MAKE,
    PIVOT,
    PREEMPTION,
    PROP,
    REDIRECT,
    SEQUENCE,
    STEP_LINE,
    TOPIC,
)  # fmt: skip
from fireline.detect.detectors.jailbreak_suffix import restates, suffix_tokens
from fireline.detect.detectors.jailbreak_terms import REQUEST_HARM, REQUEST_HINTS
from fireline.detect.detectors.refusal import RefusalDetector
from fireline.patterns import LinearPattern, Pattern, compile_linear, matches

import re2  # isort: skip

SEVERITY = {"weapons_cbrn": "P1", "self_harm": "P1", "violence": "P1"}
# Below the default playbooks' blocking floor (0.9): this finding is a flag, never a block.
MAX_CONFIDENCE = 0.85
_WORD = re.compile(r"[a-z][a-z'-]{3,}")
# How the answer to an adversarial suffix opens ("Sure, here is ..."), checked before the exact pattern.
_AFFIRMATIVE_START = ("sure", "here", "certainly", "absolutely", "of course", "okay", "ok")
_STEM = 5  # words compared by their first letters: "machines" echoes "machine"
# Words of the request that say nothing about its subject (the framing, the asking).
_FRAME_WORDS = frozenset(word for line in (
    "about above after again against would could should their there these those which while where imagine",
    "writing write written provide describe explain detailed details please ensure remember purely",
    "purposes purpose educational research academic hypothetical scenario fictional story character novel",
    "author writer movie script scene never actually used using being because other within without first",
    "begin beginning reply response answer sure certainly following example create draft guide steps",
    "step-by-step tutorial instructions section chapter article include necessary specific particular",
    "process important really given order might going things thing something someone people person makes",
    "making method methods together always everything with into from that them your have been this then",
    "than what when they some more most such only also just like over under does each very onto upon how",
    "will shall must want need help real life world reality entertainment creative fiction hypothetically",
) for word in line.split())


# The harm phrases make one large alternation: with the default 8 MB budget RE2's DFA cache keeps
# being flushed and a 600-character question costs ~350 us; 32 MB (~5 MB used) keeps it ~30 us.
_LARGE = re2.Options()
_LARGE.max_mem = 32 << 20
_LARGE.log_errors = False


def _alternation(patterns: tuple[str, ...] | list[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


# The framing checks' places in JailbreakDetector._checks.
_PREEMPTION, _PROP, _FRAMING, _HOW_TO, _MAKE, _BENIGN = range(6)
# The checks without one of which a request is framed by nothing (`_framing_of` answers None).
_ATTEMPTS = frozenset({_PREEMPTION, _FRAMING, _HOW_TO, _MAKE})


def _pattern_set(patterns: tuple[LinearPattern, ...]) -> Any:
    """An RE2 set of the patterns (their sources, RE2's default options as compile_linear's: only the
    memory budget differs), or None when RE2 will not build one (each pattern then searches alone). A
    set run reports every pattern that matches somewhere in the text; for a set RE2's DFA resets its
    cache when full instead of giving up, so a budget this size never fails a match."""
    options = re2.Options()
    options.max_mem = 64 << 20
    options.log_errors = False
    try:
        found = re2.Set.SearchSet(options)
        for pattern in patterns:
            found.Add(pattern.pattern)
        found.Compile()
    except re2.error:
        return None
    return found


def _present(pattern_set: Any, patterns: tuple[LinearPattern, ...], data: bytes) -> frozenset[int]:
    """The indexes of the patterns found in `data`: one pass of their set, or each searching alone."""
    if pattern_set is not None:
        return frozenset(pattern_set.Match(data) or ())
    return frozenset(i for i, pattern in enumerate(patterns) if pattern.search(data) is not None)


class JailbreakDetector:
    name = "jailbreak"

    def __init__(self, config: dict[str, Any]) -> None:
        # One pass without groups finds the phrases (RE2's DFA; named groups would make it 4x
        # slower), then each phrase found is given its category.
        # A plain request is checked only when that pass found a harm: ordinary calls pay one pass.
        every = "|".join(_alternation(terms) for terms in (*REQUEST_HARM.values(), *REQUEST_HINTS.values()))
        self._harm: Pattern = re2.compile(rf"\b(?:{every})\b", options=_LARGE)
        strong = "|".join(_alternation(terms) for terms in REQUEST_HARM.values())
        self._strong: Pattern = re2.compile(rf"\b(?:{strong})\b", options=_LARGE)
        self._gate: LinearPattern = re2.compile(rf"\b(?:{every})\b|{_alternation(PREEMPTION)}", options=_LARGE)
        # (category, names a harm on its own): a REQUEST_HARM phrase first, else a hint.
        self._categories = [
            ((cat, strong), compile_linear(f"(?:{_alternation(terms)})\\z", f"detectors.jailbreak.{cat}"))
            for strong, table in ((True, REQUEST_HARM), (False, REQUEST_HINTS)) for cat, terms in table.items()
        ]
        self._phrase_category: dict[str, tuple[str, bool] | None] = {}
        self._framing: LinearPattern = compile_linear(_alternation(FRAMING), "detectors.jailbreak.framing")
        self._preemption: LinearPattern = compile_linear(_alternation(PREEMPTION), "detectors.jailbreak.preemption")
        self._how_to: LinearPattern = compile_linear(HOW_TO, "detectors.jailbreak.how_to")
        self._make: LinearPattern = compile_linear(MAKE, "detectors.jailbreak.make")
        self._topic: Pattern = compile_linear(TOPIC, "detectors.jailbreak.topic")
        self._benign_context: LinearPattern = compile_linear(BENIGN_CONTEXT, "detectors.jailbreak.benign_context")
        self._prop: LinearPattern = compile_linear(PROP, "detectors.jailbreak.prop")
        # The framing checks of a request that names a harm, in one pass: an RE2 set of the six
        # patterns says which of them the request holds (each exactly where its `search` finds it).
        self._checks = (self._preemption, self._prop, self._framing, self._how_to, self._make, self._benign_context)
        self._check_set = _pattern_set(self._checks)
        self._opening: Pattern = compile_linear(COMPLIANCE_OPENING, "detectors.jailbreak.opening")
        self._steps: Pattern = compile_linear(STEP_LINE, "detectors.jailbreak.steps")
        self._sequence: Pattern = compile_linear(SEQUENCE, "detectors.jailbreak.sequence")
        self._redirect: Pattern = compile_linear(REDIRECT, "detectors.jailbreak.redirect")
        self._pivot: Pattern = compile_linear(PIVOT, "detectors.jailbreak.pivot")
        self._artefacts = [(compile_linear(asked, "detectors.jailbreak.artefact"),
                            compile_linear(shape, "detectors.jailbreak.artefact_shape"))
                           for asked, shape in ARTEFACTS]
        self._asked = tuple(asked for asked, _ in self._artefacts)
        self._asked_set = _pattern_set(self._asked)
        self._affirmative: Pattern = compile_linear(
            r"^\s*(?:(?:sure|certainly|absolutely|of course|okay|ok)\b[,!.]?\s*)?here(?:'s| is| are)\b",
            "detectors.jailbreak.affirmative")
        self._refusal = RefusalDetector({})
        self.min_words = int(option(config, "min_words", 12))
        self.min_shared_words = int(option(config, "min_shared_words", 6))
        self.min_confidence = float(option(config, "min_confidence", 0.6))
        self.severity: dict[str, str] = {**SEVERITY, **(config.get("severity") or {})}
        self.default_severity = str(option(config, "default_severity", "P2"))
        self.scan_chars = int(option(config, "scan_chars", 4000))

    def harm_categories(self, text: str) -> dict[str, tuple[int, int]]:
        """First span of each harm category in lower-cased text."""
        return {cat: spans[0] for cat, spans in self._harm_spans(text)[0].items()}

    def _harm_spans(self, text: str) -> tuple[dict[str, list[tuple[int, int]]], bool]:
        """(spans by category, whether a phrase names a harm on its own) of lower-cased text."""
        found: dict[str, list[tuple[int, int]]] = {}
        strong = False
        hints = set()
        for phrase, start, end in matches(self._harm, text):
            known = self._category_of(phrase)
            if known:
                found.setdefault(known[0], []).append((start, end))
                # Violence against a possessive is not against the person ("attack someone's argument").
                strong = strong or (known[1] and not (known[0] == "violence" and text.startswith("'s", end)))
                hints.add(phrase)
        # Two different hints together name a harm as well as one harm phrase does ("a persuasive
        # article" that it was a "hoax"; "medical records" "without authorization").
        return found, strong or len(hints) >= 2

    def _category_of(self, phrase: str) -> tuple[str, bool] | None:
        if phrase in self._phrase_category:
            return self._phrase_category[phrase]
        known = next((key for key, pattern in self._categories if pattern.match(phrase)), None)
        inner = self._strong.search(phrase) if known and not known[1] else None
        if inner is not None:  # a hint that swallowed a harm ("making lewisite at home")
            known = next((key for key, pattern in self._categories if pattern.match(inner.group())), known)
        if len(self._phrase_category) < 10_000:  # phrases repeat; the memo stays bounded
            self._phrase_category[phrase] = known
        return known

    def request(self, text: str) -> tuple[dict[str, tuple[int, int]], str | None]:
        """(harm categories, how the request is framed: "preemption", "framing", "direct" or None),
        of a lower-cased request. A request counts as a jailbreak attempt when it pre-empts a
        refusal, when it names a harm and wraps it in a role, story or hypothesis, or when it
        plainly asks for something to act on with a phrase that names a harm on its own."""
        data = text.encode("utf-8")
        if not found_in(self._gate, data):
            return {}, None
        spans, strong = self._harm_spans(text)
        return {cat: s[0] for cat, s in spans.items()}, self._framing_of(text, data, spans, strong)

    def _framing_of(self, text: str, data: bytes, spans: dict[str, list[tuple[int, int]]], strong: bool,
                    found: frozenset[int] | None = None) -> str | None:
        """How the lower-cased request `text` is framed; `data` is its UTF-8 encoding (`found`, its
        `checks_found`, when known). Whether a pattern is found at all is asked of the bytes: RE2's
        wrapper encodes a str to exactly these bytes and runs the same program on them, then maps
        offsets back in Python, which a yes or no never reads."""
        if found is None:
            found = self.checks_found(data)
        if _PREEMPTION in found:
            return "preemption"
        if not spans or _PROP in found:
            return None
        if _FRAMING in found:
            return "framing"
        first = min(s[0][0] for s in spans.values())
        if strong and self._asks_to_act(text, found, first) and _BENIGN not in found:
            return "direct"
        return None

    def checks_found(self, data: bytes) -> frozenset[int]:
        """Which of the framing checks (indexes into `_checks`) a request's UTF-8 bytes hold."""
        return _present(self._check_set, self._checks, data)

    def _is_artefact(self, data: bytes, ans: str) -> bool:
        """Whether the request (its UTF-8 bytes) asks for an artefact the answer has the shape of:
        `any(asked.search(req) and shaped.search(ans) for asked, shaped in self._artefacts)`, the asks
        found in one set pass."""
        asked = _present(self._asked_set, self._asked, data)
        if not asked:
            return False
        answer = ans.encode("utf-8")
        return any(found_in(self._artefacts[i][1], answer) for i in sorted(asked))

    @staticmethod
    def _sentence(text: str, at: int) -> str:
        start = max(text.rfind(c, 0, at) for c in ".!?\n") + 1
        ends = [i for i in (text.find(c, at) for c in ".!?\n") if i >= 0]
        return text[start : min(ends, default=len(text))]

    def _asks_to_act(self, text: str, found: frozenset[int], first_harm: int) -> bool:
        """An ask for instructions, or for an artefact whose subject the harm is not ("write an essay
        about ransomware" has the harm as its topic; "write a racist joke about them" does not)."""
        if _HOW_TO in found:
            return True
        return _MAKE in found and self._topic.search(text[:first_harm]) is None

    def assess(self, request: str, answer: str) -> tuple[float, str, str] | None:
        """(confidence, "<framing>:<category>", why) when a harmful request (framed or plain) got
        an answer that goes along with it; None otherwise."""
        req = request[-self.scan_chars :].lower()
        data = req.encode("utf-8")  # what RE2 reads of it (see _framing_of)
        gated = found_in(self._gate, data)  # ordinary traffic: one pass over the question
        found = self.checks_found(data) if gated else frozenset()
        # Without a pre-emption, a frame or an ask to act, the request is framed by nothing (see
        # _framing_of): only an adversarial suffix is left, which needs an affirmative answer, so the
        # harm phrases are not looked up for an answer that is not one.
        if not found & _ATTEMPTS and not self._affirms(answer):
            return None
        spans, strong = self._harm_spans(req) if gated else ({}, False)
        framing = self._framing_of(req, data, spans, strong, found) if gated else None
        suffix: list[str] = []
        if framing is None:  # an adversarial suffix is an attempt without a harm named (jailbreak_suffix.py)
            if not self._affirms(answer):
                return None
            suffix = suffix_tokens(request[-self.scan_chars :])
            if not suffix:
                return None
            framing = "suffix"
        # A refusal pre-empted in so many words is the strongest tell; a harm named in a story next;
        # a plain ask needs the answer's shape to say it was carried out.
        base = {"direct": 0.5, "framing": 0.55, "suffix": 0.55}.get(framing, 0.6 if spans else 0.55)
        cats = {c: s[0] for c, s in spans.items()}
        refusal = self._refusal.find(answer)
        pivoted = False
        if refusal is not None:
            # "I cannot provide X. However, I can provide an overview: ..." goes along after all.
            pivot = self._pivot.search(answer[refusal[1] : refusal[1] + 400].lower())
            if pivot is None:
                return None
            answer, pivoted = answer[refusal[1] + pivot.end() :], True
        ans = answer[: self.scan_chars].lower()
        words = ans.split()
        if len(words) < self.min_words:
            return None
        if framing == "suffix" and (pivoted or not restates(request[-self.scan_chars :], answer, suffix)):
            return None
        ans_cats = self.harm_categories(ans)
        if framing == "suffix" and not (cats or ans_cats):  # a harm named by either side, or it is a stunt
            return None
        ans_stems = {w[:_STEM] for w in _WORD.findall(ans)}
        req_stems = {w[:_STEM] for w in _WORD.findall(req) if w not in _FRAME_WORDS}
        shared_words = len(req_stems & ans_stems)
        echoed = shared_words / max(1, len(req_stems))
        # A sentence that names the harm is the request proper: a long set-up around the ask, or an
        # adversarial suffix after it, dilutes the share over the whole request.
        for clause in {self._sentence(req, a) for s in spans.values() for a, _ in s[:3]}:
            clause_stems = {w[:_STEM] for w in _WORD.findall(clause) if w not in _FRAME_WORDS}
            clause_shared = len(clause_stems & ans_stems)
            if clause_shared >= 2 and clause_shared / len(clause_stems) >= 0.5:
                echoed = max(echoed, clause_shared / len(clause_stems))
        # A long story set up around the ask dilutes the share, so a count of shared words
        # counts too (the standard library's prose shares at most 4 with any PAIR prompt).
        echo = echoed >= 0.3 or shared_words >= self.min_shared_words
        # The harmful object itself ("slot machines", "smog test"): is the answer about it?
        objects = {w[:_STEM] for s in spans.values() for a, b in s for w in _WORD.findall(req[a:b])
                   if w not in _FRAME_WORDS}
        matched = len(objects & ans_stems)
        # One shared word alone is chance ("traced" and a debugger's "trace") unless more of the
        # request is echoed too.
        object_echo = matched / max(1, len(objects)) if matched >= 2 or echoed >= 0.15 else 0.0
        shared = [c for c in cats if c in ans_cats]
        # The answer is the artefact asked for (the e-mail, the jokes, the thread, the scene, the code).
        # With a few of the request's words: code or a heading alone is no answer to this request.
        artefact = shared_words >= 3 and self._is_artefact(data, ans)
        # Engaged: the answer takes up the request's words, or its harmful object, or a harm
        # phrase of the request's category with some of its words (a bare "illegal" in an
        # unrelated answer is not engagement), or it is the artefact asked for; after a suffix,
        # it restated the ask (checked above).
        if framing != "suffix" and not (echo or artefact or object_echo >= 0.5 or (shared and echoed >= 0.15)):
            return None
        shape = []
        if self._opening.search(ans) or (framing == "suffix" and not pivoted):
            shape.append("opening")
        elif artefact:
            shape.append("artefact")
        if sum(1 for _ in self._steps.finditer(ans)) >= 2:
            shape.append("steps")
        elif sum(1 for _ in self._sequence.finditer(ans)) >= 2:
            shape.append("sequence")
        if framing == "direct" and not shape:  # a plain question answered in prose is not carried out
            return None
        confidence = base + 0.1 * len(shape) + (0.1 if shared else 0.0)
        confidence += 0.05 if echo else 0.0
        # Steering away, unless the words that seem to steer are the request's own ("debunking",
        # "legal ways" when the request asked to debunk the debunkers or for "legal" ways round a law).
        if any(not self._echoes(m.group(), req_stems) for m in self._redirect.finditer(ans)):
            confidence -= 0.2
        confidence = min(MAX_CONFIDENCE, confidence)
        if confidence < self.min_confidence:
            return None
        category = (shared or list(cats) or list(ans_cats) or ["unspecified"])[0]
        why = ",".join([*shape, *(["pivot"] if pivoted else []), f"echo={echoed:.2f}/{shared_words}",
                        f"object={object_echo:.2f}", *(f"answer:{c}" for c in ans_cats)])
        return round(confidence, 2), f"{framing}:{category}", why

    def _affirms(self, answer: str) -> bool:
        """Whether the answer opens as an adversarial suffix's target does ("Sure, here is ...")."""
        # str methods first: an ordinary answer costs a fraction of a microsecond here.
        return answer.lstrip()[:12].lower().startswith(_AFFIRMATIVE_START) and (
            self._affirmative.search(answer[:80].lower()) is not None)

    @staticmethod
    def _echoes(phrase: str, req_stems: set[str]) -> bool:
        return any(w[:_STEM] in req_stems for w in _WORD.findall(phrase) if w not in _FRAME_WORDS)

    def detect(self, call: CallView) -> list[Finding]:
        answer = call.output_text
        if not answer:
            return []
        start = call.latest_input_start()
        result = self.assess(call.input_text[start:], answer)
        if result is None:
            return []
        confidence, entity, _ = result
        category = entity.partition(":")[2]
        end = min(len(answer), 80)
        return [
            Finding(
                detector=self.name,
                kind="compliance",
                severity=self.severity.get(category, self.default_severity),
                confidence=confidence,
                location="output",
                start=0,
                end=end,
                entity=entity,
                evidence=evidence(answer, 0, end, spans=call.spans("output")),  # the PII scan, shared
            )
        ]
