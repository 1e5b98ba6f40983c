"""What every per-call detector shares: the call view it reads, the finding it returns.

Detectors are pure functions of one call (plus, for tool_policy, a running baseline): no
database, no HTTP, so the gateway can run them inline and ingest can run them in batches.
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import re2

from fireline.memo import TextMemo
from fireline.pii import redact, replace_spans, scan

Span = tuple[str, int, int]

_EVIDENCE_CONTEXT = 40
# The spans of a finding's hit scanned on its own (`evidence` shows it redacted). Hits recur: the
# names, figures and policy terms an app's answers keep repeating, which the claim check reports on
# every call (a scan of a 10-character hit costs ~50 us: its fixed cost, not its length).
_HITS: TextMemo[tuple[Span, ...]] = TextMemo()


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


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, scalar) pairs of a JSON value; list items keep their parent's path."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v, path)
    else:
        yield path, value


def arguments_of(tool: dict[str, Any]) -> Any:
    args = tool.get("arguments")
    if isinstance(args, str):
        try:
            return orjson.loads(args)
        except orjson.JSONDecodeError:
            return {"": args}
    return args if args is not None else {}


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
    message_roles: list[str] = field(default_factory=list)  # role of each joined message
    profile: Any = None  # output_quality.Profile, measured once and shared with the monitors
    topic: int | None = None  # the semantic detector's topic bucket of the question (input_topic)
    _scans: dict[str, list[Span]] = field(default_factory=dict, repr=False, compare=False)
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _scanned: dict[str, list[Span]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> CallView:
        """Build the view from the CONTRACT call JSON (input: [{role, content}], content a string or parts)."""
        texts: list[str] = []
        starts: list[int] = []
        roles: list[str] = []
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
                roles.append(str(role or "user"))
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
            message_roles=roles,
        )

    def spans(self, location: str) -> list[Span]:
        """PII and secret spans of input_text, output_text or a tool call's arguments ("tool:<i>",
        offsets into `tool_text(i)`), scanned once and shared by detectors."""
        cached = self._scans.get(location)
        if cached is None:
            if location.startswith("tool:"):
                text = self.tool_text(int(location[5:]))
            else:
                text = self.input_text if location == "input" else self.output_text
            cached = self._scans[location] = self.scan_of(text)
        return cached

    def scan_of(self, text: str) -> list[Span]:
        """`scan(text)` (the spans `evidence` hides), made once per text of this call: the findings of
        one answer (five unsupported claims, a refusal, a harm term) share one scan of it, and the
        texts the privacy pass already scanned are not scanned again (screen.view_of)."""
        cached = self._scanned.get(text)
        if cached is None:
            cached = self._scanned[text] = scan(text)
        return cached

    def tool_text(self, i: int) -> str:
        """The string values of tool call i's arguments, joined with newlines (what leaves through it)."""
        key = f"text:{i}"
        cached = self._texts.get(key)
        if cached is None:
            args = arguments_of(self.tool_calls[i]) if i < len(self.tool_calls) else {}
            cached = "\n".join(str(v) for _, v in leaves(args) if isinstance(v, str) and v)
            self._texts[key] = cached
        return cached

    def latest_input_start(self) -> int:
        """Offset in input_text where this call's new input begins: the messages after the last
        assistant turn (earlier turns are history the app re-sends on every call)."""
        for i in range(len(self.message_roles) - 1, -1, -1):
            if self.message_roles[i] == "assistant":
                return self.message_starts[i + 1] if i + 1 < len(self.message_starts) else len(self.input_text)
        return 0

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
    # A hit inside (or across) a PII/secret span (a digit of a password, a word of an address) is
    # shown as that span's label: showing the hit would show the rest of the span around it.
    around = [sp for sp in found if sp[1] < end and sp[2] > start and (sp[1] != start or sp[2] != end)]
    if around:
        start, end = min(start, *(sp[1] for sp in around)), max(end, *(sp[2] for sp in around))
        label = label or max(around, key=_width)[0]
    lo = max(0, start - _EVIDENCE_CONTEXT)
    hi = min(len(text), end + _EVIDENCE_CONTEXT)
    hidden = [sp for sp in found if sp[1] < hi and sp[2] > lo and (sp[2] <= start or sp[1] >= end)]
    if not hidden:  # the hit alone: no span to hide around it
        shown = f"<{label}>" if label else _redacted_hit(text[start:end])
        return "".join(("…" if lo else "", text[lo:start], shown, text[end:hi] if end < hi else "",
                        "…" if hi < len(text) else "")).replace("\n", " ")
    # Never cut a hidden span at the snippet's edge: its visible half would leak.
    lo = min(lo, *(sp[1] for sp in hidden))
    hi = max(hi, *(sp[2] for sp in hidden))
    hidden.append((label or "", start, end))
    hidden.sort(key=_start)
    parts: list[str] = ["…" if lo else ""]
    pos = lo
    for entity, s, x in hidden:
        if s < pos:
            continue
        parts.append(text[pos:s])
        if entity:
            parts.append(f"<{entity}>")
        elif s == start and x == end:
            parts.append(_redacted_hit(text[s:x]))  # the hit itself, with any PII inside it hidden
        pos = x
    parts.append(text[pos:hi] if pos < hi else "")
    parts.append("…" if hi < len(text) else "")
    return "".join(parts).replace("\n", " ")


def _width(sp: Span) -> int:
    return sp[2] - sp[1]


_start = operator.itemgetter(1)

_UNANCHORED = re2._Anchor.UNANCHORED


def found_in(pattern: Any, data: bytes) -> bool:
    """`pattern.search(data) is not None` for an RE2 pattern over bytes: the same call to the compiled
    RE2, without the wrapper's generator and match object (~2 us a search)."""
    return bool(pattern._regexp.Match(_UNANCHORED, data, 0, len(data))[0][0] != -1)


def _redacted_hit(hit: str) -> str:
    """`redact(hit)[0]`, its spans remembered by the hit's digest (the memo holds no text)."""
    key = _HITS.key(hit)
    spans = _HITS.get(key)
    if spans is None:
        redacted, found = redact(hit)
        _HITS.put(key, tuple(found))
        return redacted
    return replace_spans(hit, list(spans)) if spans else hit


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
