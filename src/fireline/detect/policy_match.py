"""Policies compiled once and evaluated on every call (ingest and the gateway use the same code).

Per app and target, every deny term of every rule is one RE2 regex (the matched word names its
rules through a dict) and every deny pattern is one RE2 `Set`, so a text is scanned once for
all terms and once for all patterns, whatever the number of rules; texts without a hit cost
those two passes only. Apps without a rule cost a dict lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, arguments_of, evidence, leaves
from fireline.detect.policies import PolicyRule, compile_re2
from fireline.detect.policy_text import (
    EMAIL_RE,
    HOST_RE,
    SPLIT_RE,
    URL_RE,
    Hit,
    TextMatcher,
    as_number,
    host_allowed,
    hosts,
    inflections,
    redact_spans,
)

Categorizer = Callable[[str], dict[str, list[tuple[int, int]]]]


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule broken once: where, how, and the span to redact when there is one."""

    rule: PolicyRule
    kind: str
    location: str  # input | output | tool
    item: int | None  # tool call index (tool) or message index (input)
    start: int | None
    end: int | None
    argument: str | None
    evidence: str

    def finding(self) -> Finding:
        return Finding(detector=self.rule.detector, kind=self.kind, severity=self.rule.severity, confidence=1.0,
                       location=self.location, start=self.start, end=self.end, entity=None,
                       evidence=self.evidence[:500], item=self.item)


def _allow_hits(rule: PolicyRule, text: str, matchers: dict[str, list[Any]]) -> list[Hit]:
    """Allow-lists over a whole text (input or output): patterns, and the hosts of links/e-mails."""
    out = []
    allow = matchers.get(rule.name)
    if allow and not any(p.search(text) for p in allow):
        out.append(Hit(rule, "not_allowed"))
    if rule.allow_domains:
        for m in [*EMAIL_RE.finditer(text), *URL_RE.finditer(text)]:
            host = (m.group(1) if m.re is EMAIL_RE else m.group(2)).lower().rstrip(".")
            if not host_allowed(host, rule.allow_domains):
                out.append(Hit(rule, "not_allowed", m.start(), m.end()))
    return out


class AppPolicies:
    """The rules that apply to one app, compiled."""

    def __init__(self, rules: Sequence[PolicyRule], categorizers: dict[str, Categorizer]) -> None:
        self.rules = list(rules)
        self.categorizers = categorizers
        by_target: dict[str, list[PolicyRule]] = {"input": [], "output": [], "tool_arguments": []}
        for r in self.rules:
            by_target[r.target].append(r)
        self.input = TextMatcher(by_target["input"]) if by_target["input"] else None
        self.output = TextMatcher(by_target["output"]) if by_target["output"] else None
        self.tool_rules = by_target["tool_arguments"]
        self.tool_matchers = {r.name: TextMatcher([r]) for r in self.tool_rules if r.deny_terms or r.deny_patterns}
        self._plans: dict[str, tuple[TextMatcher | None, list[PolicyRule]]] = {}
        self.allow = {r.name: [compile_re2(p) for p in r.allow_patterns] for r in self.rules if r.allow_patterns}
        self.allow_values = {r.name: {v.lower() for v in r.allow_values} for r in self.rules if r.allow_values}
        enforced = [r for r in self.rules if r.action != "flag"]
        self.enforces_input = any(r.target == "input" for r in enforced)
        self.enforces_output = any(r.target != "input" for r in enforced)
        self.needs_findings = any(r.detectors for r in self.rules)

    def check(self, view: CallView, findings: Sequence[Finding] = (),
              targets: Sequence[str] = ("input", "output", "tool_arguments")) -> list[Violation]:
        out: list[Violation] = []
        if self.input is not None and "input" in targets and view.input_text:
            base = view.latest_input_start()
            text = view.input_text[base:]
            out += self._text(self.input, text, "input", findings, base, view)
        if self.output is not None and "output" in targets and view.output_text:
            out += self._text(self.output, view.output_text, "output", findings, 0, view)
        if self.tool_rules and "tool_arguments" in targets:
            for i, tool in enumerate(view.tool_calls):
                out += self._tool(i, tool, findings, view)
        return out

    def redact_arguments(self, rules: Sequence[PolicyRule], args: Any, path: str = "") -> Any:
        """The arguments with what the rules' deny terms and patterns matched replaced by [REDACTED]."""
        if isinstance(args, dict):
            return {k: self.redact_arguments(rules, v, f"{path}.{k}" if path else str(k)) for k, v in args.items()}
        if isinstance(args, list):
            return [self.redact_arguments(rules, v, path) for v in args]
        if not isinstance(args, str):
            return args
        spans: list[tuple[int, int]] = []
        for r in rules:
            matcher = self.tool_matchers.get(r.name)
            if matcher is not None and (r.argument is None or path == r.argument or path.startswith(r.argument + ".")):
                spans += [(h.start, h.end) for h in matcher.hits(args) if h.start is not None and h.end is not None]
        return redact_spans(args, spans) if spans else args

    # ---- text targets ----
    def _text(self, matcher: TextMatcher, text: str, location: str, findings: Sequence[Finding], base: int,
              view: CallView) -> list[Violation]:
        hits = matcher.hits(text)
        for rule in matcher.rules:
            if rule.allow_patterns or rule.allow_domains:
                hits += _allow_hits(rule, text, self.allow)
            if rule.detectors:
                hits += self._detector_hits(rule, text, location, findings, base)
        out = []
        for h in hits:
            s = h.start + base if h.start is not None else None
            e = h.end + base if h.end is not None else None
            snippet = evidence(text, h.start, h.end or h.start, spans=view.scan_of(text)) if h.start is not None else ""
            item = view.message_index(s) if location == "input" and s is not None else None
            out.append(Violation(h.rule, h.kind, location, item, s, e, None,
                                 f"{h.rule.detector} ({h.kind}): {snippet}" if snippet else
                                 f"{h.rule.detector} ({h.kind}) on the {location}"))
        return out

    def _detector_hits(self, rule: PolicyRule, text: str, location: str, findings: Sequence[Finding],
                       base: int) -> list[Hit]:
        wanted = set(rule.detectors)
        hits = []
        for f in findings:
            if f.location != location or f.detector.startswith("policy:"):
                continue
            if f.start is not None and f.start < base:
                continue  # an earlier turn of the conversation, judged when it was new
            if wanted & {f.detector, f.kind, f"{f.detector}:{f.kind}"}:
                s = f.start - base if f.start is not None else None
                e = f.end - base if f.end is not None else None
                hits.append(Hit(rule, "detector", s, e))
        if not hits:  # categories off unless a policy names them (computed for this app only)
            for name, categorize in self.categorizers.items():
                for category, spans in categorize(text).items():
                    if wanted & {category, f"{name}:{category}"}:
                        hits += [Hit(rule, "detector", s, e) for s, e in spans]
        return hits

    # ---- tool arguments ----
    def _plan(self, name: str) -> tuple[TextMatcher | None, list[PolicyRule]]:
        """For one tool name: one matcher over the deny terms and patterns of the rules that read
        every argument (one pass over all its argument text), and the rules that apply at all."""
        plan = self._plans.get(name)
        if plan is None:
            rules = [r for r in self.tool_rules if not r.tool or name in r.tool]
            whole = [r for r in rules if r.argument is None and (r.deny_terms or r.deny_patterns)]
            plan = (TextMatcher(whole) if whole else None, rules)
            if len(self._plans) < 1000:
                self._plans[name] = plan
        return plan

    def _tool(self, i: int, tool: dict[str, Any], findings: Sequence[Finding], view: CallView) -> list[Violation]:
        name = str(tool.get("name") or "")
        matcher, rules = self._plan(name)
        out: list[Violation] = []
        if matcher is not None:
            text = view.tool_text(i)
            for h in matcher.hits(text):
                snippet = (evidence(text, h.start, h.end, spans=view.scan_of(text))
                           if h.start is not None and h.end is not None else "")
                out.append(Violation(h.rule, h.kind, "tool", i, None, None, None,
                                     f"{h.rule.detector}: {name} {h.kind}: {snippet}"))
        args: Any = None
        for rule in rules:
            if rule.argument is None and not (rule.allow_patterns or rule.allow_values or rule.allow_domains
                                              or rule.min is not None or rule.max is not None):
                values: list[tuple[str, Any]] = []
            else:
                if args is None:
                    args = arguments_of(tool)
                values = [(p, v) for p, v in leaves(args)
                          if rule.argument is None or p == rule.argument or p.startswith(rule.argument + ".")]
            for path, value in values:
                for kind, start, end in self._value(rule, value):
                    where = f"{name}.{path}" if path else name
                    snippet = evidence(value, start, end if end is not None else start) \
                        if isinstance(value, str) and start is not None else ""
                    what = {"above_max": f"above max {rule.max:g}" if rule.max is not None else "",
                            "below_min": f"below min {rule.min:g}" if rule.min is not None else ""}.get(kind, kind)
                    out.append(Violation(rule, kind, "tool", i, start, end, path,
                                         f"{rule.detector}: {where} {what}" + (f": {snippet}" if snippet else "")))
            if rule.detectors:
                wanted = set(rule.detectors)
                for f in findings:
                    if f.location == "tool" and f.item == i and wanted & {f.detector, f.kind, f"{f.detector}:{f.kind}"}:
                        out.append(Violation(rule, "detector", "tool", i, None, None, None,
                                             f"{rule.detector}: {name} {f.detector}/{f.kind}"))
        return out

    def _value(self, rule: PolicyRule, value: Any) -> list[tuple[str, int | None, int | None]]:
        out: list[tuple[str, int | None, int | None]] = []
        if rule.min is not None or rule.max is not None:
            number = as_number(value)
            if number is None:
                if value is not None:
                    out.append(("not_a_number", None, None))
            elif rule.max is not None and number > rule.max:
                out.append(("above_max", None, None))
            elif rule.min is not None and number < rule.min:
                out.append(("below_min", None, None))
        if value is None or isinstance(value, bool | int | float):
            text = None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        else:
            text = str(value)
        if text is None:
            return out
        matcher = self.tool_matchers.get(rule.name) if rule.argument is not None else None
        if matcher is not None:  # rules over every argument were scanned in one pass (_plan)
            out += [(h.kind, h.start, h.end) for h in matcher.hits(text)]
        if rule.allow_patterns or rule.allow_values or rule.allow_domains:
            parts = [p.strip() for p in SPLIT_RE.split(text)] if rule.argument else [text]
            for part in (p for p in parts if p):
                if not self._allowed(rule, part):
                    start = text.find(part)
                    out.append(("not_allowed", start, start + len(part)))
        return out

    def _allowed(self, rule: PolicyRule, value: str) -> bool:
        if rule.allow_values and value.lower() in self.allow_values[rule.name]:
            return True
        patterns = self.allow.get(rule.name)
        if patterns and any(p.search(value) for p in patterns):
            return True
        if rule.allow_domains:
            found = hosts(value) or ([value.lower().rstrip(".")] if HOST_RE.match(value) else [])
            if found:
                return all(host_allowed(h, rule.allow_domains) for h in found)
            if not rule.argument:
                return True  # free text without a link or address: nothing leaves for a domain
        return False


class PolicyEngine:
    """Every rule of the config, compiled per app on first use (apps without rules cost a lookup)."""

    def __init__(self, rules: Sequence[PolicyRule], categorizers: dict[str, Categorizer] | None = None) -> None:
        self.rules = list(rules)
        self.by_name = {r.name: r for r in self.rules}
        self.categorizers = dict(categorizers or {})
        self._wildcard = [r for r in self.rules if r.app == "*"]
        self._named = {r.app for r in self.rules if r.app != "*"}
        self._apps: dict[str, AppPolicies | None] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def for_app(self, app: str) -> AppPolicies | None:
        hit = self._apps.get(app, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        if not self._wildcard and app not in self._named:
            return None
        compiled = AppPolicies([r for r in self.rules if r.applies_to(app)], self.categorizers)
        with self._lock:
            if len(self._apps) > 10_000:
                self._apps.clear()
            self._apps[app] = compiled
        return compiled

    def check(self, view: CallView, findings: Sequence[Finding] = ()) -> list[Violation]:
        compiled = self.for_app(view.app)
        return compiled.check(view, findings) if compiled is not None else []

    def categories(self) -> set[str]:
        """Detector categories named by some policy (detectors switch those on)."""
        return {d.split(":", 1)[-1] for r in self.rules for d in r.detectors}


__all__ = ["AppPolicies", "PolicyEngine", "TextMatcher", "Violation", "arguments_of", "inflections", "leaves",
           "redact_spans"]
