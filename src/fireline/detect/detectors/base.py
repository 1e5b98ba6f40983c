"""What every per-call detector shares: the call view it reads, the finding it returns.

Detectors are pure functions of one call (plus, for tool_policy, a running baseline): no
database, no HTTP, so the gateway can run them inline and ingest can run them in batches.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fireline.pii import redact, scan

Span = tuple[str, int, int]

_EVIDENCE_CONTEXT = 40


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    kind: str
    severity: str  # "P0".."P3"
    confidence: float
    location: str  # "input" | "output" | "retrieval" | "tool" | "system"
    start: int | None
    end: int | None
    entity: str | None = None
    evidence: str = ""  # REDACTED evidence snippet, never raw PII
    item: int | None = None  # index of the message / retrieval doc / tool call


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


@dataclass(slots=True)
class CallView:
    """The parts of a call the detectors read, as plain Python values."""

    app: str
    tenant: str | None = None
    user_pseudonym: str | None = None
    input_text: str = ""  # user and assistant messages joined with "\n"
    output_text: str = ""
    retrieval: list[dict[str, Any]] = field(default_factory=list)  # {id, source, text}
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {name, arguments, kind, status}
    system_prompt: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_results: list[str] = field(default_factory=list)  # role "tool" messages, in order
    message_starts: list[int] = field(default_factory=list)  # offset of each joined message
    profile: Any = None  # output_quality.Profile, measured once and shared with the monitors
    _scans: dict[str, list[Span]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> CallView:
        """Build the view from the CONTRACT call JSON (input: [{role, content}], content a string or parts)."""
        texts: list[str] = []
        starts: list[int] = []
        tool_results: list[str] = []
        system = d.get("system_prompt")
        pos = 0
        raw_input = d.get("input") or []
        if isinstance(raw_input, str):
            raw_input = [{"role": "user", "content": raw_input}]
        for msg in raw_input:
            if not isinstance(msg, dict):
                continue
            role = msg.get("role")
            text = _text_of(msg.get("content"))
            if role == "tool":
                tool_results.append(text)
            elif role in ("system", "developer"):
                system = system if system is not None else text
            else:
                starts.append(pos)
                texts.append(text)
                pos += len(text) + 1
        for call in d.get("tool_calls") or []:
            result = call.get("result", call.get("output")) if isinstance(call, dict) else None
            if result is not None:
                tool_results.append(_text_of(result))
        return cls(
            app=str(d.get("app") or ""),
            tenant=d.get("tenant"),
            user_pseudonym=d.get("user_pseudonym") or d.get("user"),
            input_text="\n".join(texts),
            output_text=_text_of(d.get("output")),
            retrieval=[r for r in d.get("retrieval") or [] if isinstance(r, dict)],
            tool_calls=[t for t in d.get("tool_calls") or [] if isinstance(t, dict)],
            system_prompt=system,
            metadata=dict(d.get("metadata") or {}),
            tool_results=tool_results,
            message_starts=starts,
        )

    def spans(self, location: str) -> list[Span]:
        """PII and secret spans of input_text or output_text, scanned once and shared by detectors."""
        cached = self._scans.get(location)
        if cached is None:
            cached = scan(self.input_text if location == "input" else self.output_text)
            self._scans[location] = cached
        return cached

    def message_index(self, offset: int) -> int | None:
        """Index of the input message that holds input_text[offset]."""
        if not self.message_starts:
            return None
        return bisect.bisect_right(self.message_starts, offset) - 1


class Detector(Protocol):
    name: str

    def detect(self, call: CallView) -> list[Finding]: ...


def evidence(text: str, start: int, end: int, label: str | None = None, spans: list[Span] | None = None) -> str:
    """A short snippet around text[start:end] with every PII/secret span redacted.

    Spans come from a scan of the whole text (pass `spans` when already known), so a number cut
    by the snippet's edge is still recognised and hidden. With `label`, the hit itself is shown
    as <label>.
    """
    found = scan(text) if spans is None else spans
    lo = max(0, start - _EVIDENCE_CONTEXT)
    hi = min(len(text), end + _EVIDENCE_CONTEXT)
    hidden = [(e, s, x) for e, s, x in found if s < hi and x > lo and (x <= start or s >= end)]
    # Never cut a hidden span at the snippet's edge: its visible half would leak.
    lo = min([lo, *(s for _, s, _ in hidden)])
    hi = max([hi, *(x for _, _, x in hidden)])
    hidden.append((label or "", start, end))
    hidden.sort(key=lambda sp: sp[1])
    parts: list[str] = ["…" if lo else ""]
    pos = lo
    for entity, s, x in hidden:
        if s < pos:
            continue
        parts.append(text[pos:s])
        if entity:
            parts.append(f"<{entity}>")
        elif s == start and x == end:
            parts.append(redact(text[s:x])[0])  # the hit itself, with any PII inside it hidden
        pos = x
    parts.append(text[pos:hi] if pos < hi else "")
    parts.append("…" if hi < len(text) else "")
    return "".join(parts).replace("\n", " ")


def trie_pattern(tokens: list[str]) -> str:
    """One regex matching any token, shaped as a prefix trie; longer tokens win at a position."""
    trie: dict[str, Any] = {}
    for token in tokens:
        node = trie
        for ch in token:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + render(child) for ch, child in sorted(node.items()) if ch]
        optional = "" in node
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if optional:
            return "(?:" + body + ")?" if len(branches) > 1 or len(branches[0]) > 1 else body + "?"
        return body

    return render(trie)


def option(config: dict[str, Any], key: str, default: Any) -> Any:
    """A detector option, falling back to the default when absent or null."""
    value = config.get(key)
    return default if value is None else value


def word_list(config: dict[str, Any], key: str, default: Sequence[str]) -> list[str]:
    value = config.get(key)
    if value is None:
        return list(default)
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"detectors option {key!r} must be a list of strings")
    return list(value)
