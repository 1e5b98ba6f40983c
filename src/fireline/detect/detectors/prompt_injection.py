"""prompt_injection: instructions aimed at the model, in user input (direct) or in retrieved
documents and tool results (indirect).

Direct markers are the jailbreak-template families: overriding earlier instructions, a new
persona without rules (DAN, developer mode), asking for the system prompt, chat-template
delimiters. Indirect markers are text inside data that addresses the assistant and its answer
("add the following to your response", "in your reply, mention ..."): a document has no reason
to talk about the reader's reply. Plain questions planted in a document ("What movies are
playing this weekend?") carry no marker and are missed: see docs/detectors.md.
"""

from __future__ import annotations

import re
from typing import Any

try:  # google-re2: a DFA, linear in the text; the plain loop below stays exact without it
    import re2
except ImportError:  # pragma: no cover - a declared dependency
    re2 = None

from fireline.detect.detectors.base import CallView, Finding, evidence, option, word_list
from fireline.patterns import Pattern, compile_linear

_TARGET = (
    r"(?:instructions?|prompts?|rules|directions|guidelines|guidance|context|constraints|"
    r"programming|directives|commands|messages?|conversation|text)"
)
# (gate, pattern): the pattern runs only when one gate word is in the lowercased text, so a
# clean document costs one pass for the gate words (an RE2 set, `_Rules`) instead of a regex with
# many wildcards. Every match of a pattern contains one of its gate words: where a pattern opens
# with a few fixed phrases ("you are now", "act as "), those are its gate rather than a common word
# ("you are", " as ") that would let the pattern run on most texts for nothing.
Rule = tuple[tuple[str, ...], str]
DIRECT_MARKERS: tuple[Rule, ...] = (
    (("ignore", "disregard", "forget", "override", "bypass", "skip", "drop"),
     rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\b[^.\n]{{0,30}}\b(?:previous|prior|above|"
     rf"earlier|preceding|foregoing|original|initial|all|any|your|system|developer)\b[^.\n]{{0,20}}\b{_TARGET}"),
    (("you are now", "you are no longer", "you are free", "you are going to act", "you are going to pretend"),
     r"\byou are (?:now|no longer|free|going to (?:act|pretend))\b"),
    (("act as ", "behave as ", "respond as ", "answer as "),
     r"\b(?:act|behave|respond|answer) as (?:if you (?:were|are|have)|an? (?:unfiltered|uncensored|"
     r"unrestricted|amoral|evil|jailbroken|ai without))"),
    (("pretend",), r"\bpretend (?:to be|you are|that you)\b"),
    (("developer mode", "god mode", "dan mode", "jailbreak mode", "unrestricted mode", "unfiltered mode",
      "sudo mode", "opposite mode"),
     r"\b(?:developer|god|dan|jailbreak|unrestricted|unfiltered|sudo|opposite) mode\b"),
    (("do anything now", "stands for", "can do anything"),
     r"\bdo anything now\b|\bdan\b[^\n]{0,40}\b(?:stands for|can do anything)"),
    (("stay in character", "break character", "breaking character"),
     r"\bstay in character\b|\bbreak(?:ing)? character\b"),
    (("restriction", "filter", "limitation", "censor", "guideline", "rules", "boundaries"),
     r"\b(?:no|without any|free of|free from|not bound by|don't have|do not have) (?:ethical |moral |content )?"
     r"(?:restrictions|filters|limitations|censorship|guidelines|rules|boundaries)\b"),
    (("prompt", "instruction"),
     r"\b(?:reveal|print|show|repeat|output|display|leak|tell me) (?:me )?(?:your|the) (?:system prompt|"
     r"initial (?:prompt|instructions)|hidden (?:prompt|instructions)|original instructions|instructions above)"),
    (("<|", "inst]", "<<sys>>", "##", "system prompt"),
     r"<\|im_start\|>|<\|system\|>|\[/?inst\]|<<sys>>|^#{2,} ?(?:system|instruction)\b|\bbegin system prompt\b"),
    (("instruction",), r"\bnew (?:system )?instructions?:"),
    (("hypothetical response", "antigpt", "aim stands for", "always intelligent and machiavellian"),
     r"\bhypothetical response\b|\bantigpt\b|\baim stands for\b|\balways intelligent and machiavellian\b"),
)  # fmt: skip
_OUTPUT = r"(?:response|reply|answer|output|message|elucidation|summary)"
_WORK = r"(?:code(?:base)?|implementation|algorithm|solution(?: architecture)?|program(?: logic)?|script)"
_SNIPPET = r"(?:following|below|subsequent) code (?:block|snippet|section|excerpt)"
INDIRECT_MARKERS: tuple[Rule, ...] = (
    *DIRECT_MARKERS,
    # Starts with the literal "your " so CPython's fast literal search finds candidates; the
    # words around it are checked by _YOUR_CONTEXT on a small window only.
    (("your ",), rf"your (?:{_OUTPUT}|{_WORK})\b"),
    (("following", "below"), r"\b(?:add|include|insert|append|integrate|incorporate|embed|merge|blend|introduce|"
     r"feature|weave|utili[sz]e|employ|leverage|use)\b[^.\n]{0,40}\b(?:the )?(?:following|below) "
     r"(?:sentence|line|text|statement|link)"),
    (("code",), rf"{_SNIPPET}[^\n]{{0,80}}\byour\b|\byour\b[^\n]{{0,80}}{_SNIPPET}"),
    # "ai" then ",", ":" or " " is in every match (a leading " ai" missed "AI, ignore ..." opening a text)
    (("ai ", "ai,", "ai:", "assistant", "chatbot", "language model", "llm"),
     r"\b(?:ai|assistant|chatbot|language model|llm)\b[,:]? (?:please |you must |you should |now )?"
     r"(?:ignore|disregard|forget|respond|reply|answer|say|tell|send|include)\b"),
    (("reply", "respond", "answer"), r"\b(?:reply|respond|answer) (?:only |solely )?(?:in|with|using) "
     r"(?:base\d\d|reverse|emojis?|a cipher|spanish|french|german|italian|portuguese)"),
)  # fmt: skip


_YOUR_CONTEXT = re.compile(
    rf"\b(?:in|into|to|within|from|modify|enhance|augment|upgrade|elevate|encrypt|encode|translate|render|"
    rf"reverse|express) your \w+|your {_OUTPUT}\b[^.\n]{{0,40}}\b(?:in|using|with|backward|by)\b"
)


class _Rules:
    """Gated marker rules over lowercased text (patterns are lowercased too: faster than re.I)."""

    def __init__(self, rules: list[tuple[tuple[str, ...], str, str | None]]) -> None:
        # Our gated defaults run on `re`; markers from the config (those with a field name) run on
        # RE2 (linear time) and are refused at start when RE2 cannot compile them.
        self._rules: list[tuple[tuple[str, ...], Pattern]] = [
            (gate, re.compile(pattern.lower(), re.MULTILINE) if field is None
             else compile_linear("(?m)" + pattern.lower(), field))
            for gate, pattern, field in rules]
        # Which gate words a text holds, in one linear RE2 pass (a set of literals: each one reported
        # wherever it occurs, overlapping or not, as `word in text` would); a rule is tried only when
        # one of its words is present, and most texts hold none. Gate words are ASCII, so they occur
        # in the UTF-8 bytes exactly where they occur in the text. Without RE2, or with an ungated
        # (configured) rule, every gate is a substring test as before.
        words = sorted({g for gate, _, _ in rules for g in gate})
        self._gates: Any = None
        self._gate_ids: list[frozenset[int]] = []
        if re2 is not None and words and all(gate for gate, _, _ in rules) and all(w.isascii() for w in words):
            options = re2.Options()
            options.literal = True
            self._gates = re2.Set.SearchSet(options)
            for word in words:
                self._gates.Add(word)
            self._gates.Compile()
            index = {w: i for i, w in enumerate(words)}
            self._gate_ids = [frozenset(index[g] for g in gate) for gate, _, _ in rules]
        # Retrieved documents and tool results repeat across calls: remember their verdicts.
        self._seen: dict[str, tuple[int, int] | None] = {}

    def search_cached(self, text: str) -> tuple[int, int] | None:
        if text in self._seen:
            return self._seen[text]
        hit = self.search(text)
        if len(self._seen) >= 4096:
            self._seen.clear()
        self._seen[text] = hit
        return hit

    def search(self, text: str) -> tuple[int, int] | None:
        low = text.lower()
        if self._gates is not None:
            present = self._gates.Match(low)
            if present is None:
                return None
            ids = frozenset(present)
            candidates = [rule for rule, gate in zip(self._rules, self._gate_ids, strict=True)
                          if not gate.isdisjoint(ids)]
        else:
            candidates = [rule for rule in self._rules if not rule[0] or any(g in low for g in rule[0])]
        best: tuple[int, int] | None = None
        for gate, pattern in candidates:
            for m in pattern.finditer(low):
                if gate and pattern.pattern.startswith("your ") and not _YOUR_CONTEXT.search(
                    low, max(0, m.start() - 30), m.end() + 45
                ):
                    continue
                if best is None or m.start() < best[0]:
                    best = (m.start(), m.end())
                break
        return best


def _rules(config: dict[str, Any], key: str,
           default: tuple[Rule, ...]) -> list[tuple[tuple[str, ...], str, str | None]]:
    """Configured markers are plain RE2 regexes (ungated, named by their config field); the
    defaults keep their gates."""
    ungated: tuple[str, ...] = ()
    base = "detectors.prompt_injection"
    rules: list[tuple[tuple[str, ...], str, str | None]] = (
        [(gate, p, None) for gate, p in default] if config.get(key) is None
        else [(ungated, p, f"{base}.{key}[{i}]") for i, p in enumerate(word_list(config, key, []))])
    return rules + [(ungated, p, f"{base}.extra_markers[{i}]")
                    for i, p in enumerate(word_list(config, "extra_markers", []))]


class PromptInjectionDetector:
    name = "prompt_injection"

    def __init__(self, config: dict[str, Any]) -> None:
        self._direct = _Rules(_rules(config, "direct_markers", DIRECT_MARKERS))
        self._indirect = _Rules(_rules(config, "indirect_markers", INDIRECT_MARKERS))
        self.direct_severity = str(option(config, "direct_severity", "P2"))
        self.indirect_severity = str(option(config, "indirect_severity", "P1"))
        self.scan_retrieval = bool(option(config, "scan_retrieval", True))
        self.scan_tools = bool(option(config, "scan_tools", True))

    def find_direct(self, text: str) -> tuple[int, int] | None:
        """Span of the earliest direct-injection marker in text."""
        return self._direct.search(text)

    def find_indirect(self, text: str) -> tuple[int, int] | None:
        """Span of the earliest marker of an instruction planted in data (document, tool result)."""
        return self._indirect.search_cached(text)

    def detect(self, call: CallView) -> list[Finding]:
        findings: list[Finding] = []
        hit = self.find_direct(call.input_text) if call.input_text else None
        if hit:
            findings.append(self._finding(call, "direct", "input", call.input_text, hit, call.message_index(hit[0])))
        places: list[tuple[str, int, str]] = []
        if self.scan_retrieval:
            places += [("retrieval", i, str(d.get("text") or "")) for i, d in enumerate(call.retrieval)]
        if self.scan_tools:
            places += [("tool", i, t) for i, t in enumerate(call.tool_results)]
        for location, item, text in places:
            hit = self.find_indirect(text)
            if hit:
                findings.append(self._finding(call, "indirect", location, text, hit, item))
        return findings

    def _finding(self, call: CallView, kind: str, location: str, text: str, hit: tuple[int, int],
                 item: int | None) -> Finding:
        return Finding(
            detector=self.name,
            kind=kind,
            severity=self.direct_severity if kind == "direct" else self.indirect_severity,
            confidence=0.7,
            location=location,
            start=hit[0],
            end=hit[1],
            evidence=evidence(text, hit[0], hit[1], spans=call.scan_of(text)),
            item=item,
        )
