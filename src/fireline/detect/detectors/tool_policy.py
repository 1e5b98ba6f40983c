"""tool_policy: a write tool called where the app forbids writes, a destructive operation in a
tool call's arguments, and arguments far outside a tool's baseline.

Policy: `forbid_write: [app, ...]` or `apps: {app: {allow_write: false}}` in the detector's
config; a call's tool with kind "write" in such an app is "forbidden_write" (P1).

Destructive operations (`destructive_write`, P1; the incident it feeds is raised to agentic_harm
P0 by its harm): DROP/TRUNCATE, DELETE or UPDATE without WHERE, `rm -rf`, `git push --force`,
`terraform destroy`... in any tool's arguments, one RE2 pass (`destructive_patterns` replaces the
list, `extra_destructive_patterns` adds to it).

Baseline: per (app, tool, argument), scored by the argument's kind, learned only from calls that
carried no finding (Detection calls `learn` after every detector and policy ran, so an attack
never teaches the baseline that it is normal):
- numbers by distribution: a running mean/variance (Welford); |z| > `z_threshold` is an anomaly;
- small enumerations by frequency: a string argument with at most 32 distinct values, each seen
  several times, flags a value never seen ("unseen value");
- structured strings by shape: an argument whose values all share one shape (e-mail address, URL,
  identifier, path, number) flags a value of another shape;
- free text is not scored: a research agent's queries are all different and all normal.
Scores start after `min_samples` observations.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, arguments_of, option, word_list

try:
    import re2
except ImportError:  # pragma: no cover - the wheel exists for the supported platforms
    re2 = None

ENUM_MAX = 32  # more distinct values than this: not an enumeration
ENUM_REPEAT = 3  # an enumeration's values repeat: samples >= 3x distinct values
SHAPE_DOMINANCE = 0.99  # the share of one shape before another shape is an anomaly
MAX_KEYS = 20_000
DESTRUCTIVE = [
    r"\bdrop\s+(?:table|database|schema|index|view|collection|user|role)\b",
    r"\btruncate\s+(?:table\s+)?[\w.\"`\[\]]+",
    r"\bdelete\s+from\s+[\w.\"`\[\]]+\s*(?:;|\z)",
    r"\bupdate\s+[\w.\"`\[\]]+\s+set\s+[\w.\"`]+\s*=[^;]*?(?:;|\z)",
    r"\balter\s+table\s+\S+\s+drop\b",
    r"\bdropdb\b|\bdropdatabase\s*\(|\.drop\(\s*\)|\bflushall\b|\bflushdb\b",
    r"\brm\s+-(?:[a-z]*r[a-z]*f|[a-z]*f[a-z]*r)[a-z]*\b",
    r"\bmkfs(?:\.\w+)?\b|\bdd\s+if=\S+\s+of=/dev/",
    r"\bgit\s+push\b[^\n;]*\s(?:--force\b|-f\b)|\bgit\s+reset\s+--hard\b",
    r"\bterraform\s+destroy\b|\bkubectl\s+delete\b",
]
_WHERE = re.compile(r"(?i)\bwhere\b")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_URL = re.compile(r"^(?i:https?|ftp)://\S+$")
_NUMBER = re.compile(r"^[-+$]?\d[\d,]*(?:\.\d+)?%?$")
_IDENT = re.compile(r"^[A-Za-z0-9_\-:.#/]+$")


def shape(value: str) -> str:
    """A string's shape: email, url, number, path, ident (no spaces, with a digit or separator), text."""
    v = value.strip()
    if _EMAIL.match(v):
        return "email"
    if _URL.match(v):
        return "url"
    if _NUMBER.match(v):
        return "number"
    if v.startswith(("/", "./", "~/")) or (len(v) > 2 and v[1:3] == ":\\"):
        return "path"
    if v and _IDENT.match(v) and any(c.isdigit() or c in "_-:.#" for c in v):
        return "ident"
    return "text"


@dataclass(slots=True)
class _Stats:
    n: int = 0  # numeric samples
    mean: float = 0.0
    m2: float = 0.0
    strings: int = 0  # string samples
    values: dict[str, int] = field(default_factory=dict)  # value -> count, until more than ENUM_MAX
    many: bool = False  # more than ENUM_MAX distinct values seen
    shapes: dict[str, int] = field(default_factory=dict)


class ArgumentBaseline:
    """Running per-(app, tool, argument) statistics; one lock, updates are O(1)."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str, str], _Stats] = {}
        self._lock = threading.Lock()

    def observe(self, app: str, tool: str, arguments: dict[str, Any]) -> None:
        with self._lock:
            for arg, value in arguments.items():
                st = self._stats.get((app, tool, arg))
                if st is None:
                    if len(self._stats) >= MAX_KEYS:
                        continue
                    st = self._stats[(app, tool, arg)] = _Stats()
                if _is_number(value):
                    x = float(value)
                    st.n += 1
                    delta = x - st.mean
                    st.mean += delta / st.n
                    st.m2 += delta * (x - st.mean)
                elif isinstance(value, str | bool):
                    text = str(value)
                    st.strings += 1
                    if not st.many:
                        st.values[text] = st.values.get(text, 0) + 1
                        if len(st.values) > ENUM_MAX:
                            st.many, st.values = True, {}
                    kind = shape(text)
                    st.shapes[kind] = st.shapes.get(kind, 0) + 1

    def zscore(self, app: str, tool: str, arg: str, value: float, min_samples: int) -> float | None:
        st = self._stats.get((app, tool, arg))
        if st is None or st.n < min_samples:
            return None
        std = math.sqrt(st.m2 / (st.n - 1)) if st.n > 1 else 0.0
        if std == 0.0:
            return math.inf if value != st.mean else 0.0
        return (value - st.mean) / std

    def unseen(self, app: str, tool: str, arg: str, value: str, min_samples: int) -> bool:
        """A value never seen of a small enumeration (its values repeat)."""
        st = self._stats.get((app, tool, arg))
        if st is None or st.many or st.strings < min_samples or st.strings < ENUM_REPEAT * len(st.values):
            return False
        return value not in st.values

    def new_shape(self, app: str, tool: str, arg: str, value: str, min_samples: int) -> str | None:
        """The usual shape when `value` breaks a structured argument's one shape (free text: never)."""
        st = self._stats.get((app, tool, arg))
        if st is None or st.strings < min_samples:
            return None
        usual, count = max(st.shapes.items(), key=lambda kv: kv[1])
        if usual == "text" or count < SHAPE_DOMINANCE * st.strings:
            return None
        return usual if shape(value) != usual else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class ToolPolicyDetector:
    name = "tool_policy"

    def __init__(self, config: dict[str, Any], baseline: ArgumentBaseline | None = None) -> None:
        forbid = set(config.get("forbid_write") or [])
        for app, policy in (config.get("apps") or {}).items():
            if isinstance(policy, dict) and policy.get("allow_write") is False:
                forbid.add(app)
        self.forbid_write = frozenset(forbid)
        self.z_threshold = float(option(config, "z_threshold", 4.0))
        self.min_samples = int(option(config, "min_samples", 30))
        self.learning = bool(option(config, "learn", True))
        self.baseline = baseline or ArgumentBaseline()
        patterns = word_list(config, "destructive_patterns", DESTRUCTIVE)
        patterns += word_list(config, "extra_destructive_patterns", [])
        self._destructive: Any = None
        if patterns:
            joined = "(?i)(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"
            try:
                self._destructive = re2.compile(joined) if re2 is not None else re.compile(joined)
            except Exception as exc:
                raise ValueError(f"detectors.tool_policy.destructive_patterns: not valid RE2 ({exc})") from None

    def destructive(self, text: str) -> str | None:
        """The destructive operation in a tool call's argument text, if any."""
        if self._destructive is None or not text:
            return None
        for m in self._destructive.finditer(text):
            hit = m.group()
            if hit.lower().startswith(("delete", "update")) and _WHERE.search(hit):
                continue  # a DELETE or UPDATE with a WHERE clause is an ordinary write
            return " ".join(hit.split()[:3])
        return None

    def detect(self, call: CallView) -> list[Finding]:
        findings: list[Finding] = []
        for i, tool in enumerate(call.tool_calls):
            name = str(tool.get("name") or "")
            if tool.get("kind") == "write" and call.app in self.forbid_write:
                findings.append(self._finding("forbidden_write", "P1", 1.0, i, f"{name} (write) in {call.app}"))
            what = self.destructive(call.tool_text(i))
            if what is not None:
                findings.append(self._finding("destructive_write", "P1", 0.9, i, f"{name}: {what.upper()}"))
            args = arguments_of(tool)
            if not isinstance(args, dict):
                continue
            for arg, value in args.items():
                if _is_number(value):
                    z = self.baseline.zscore(call.app, name, arg, float(value), self.min_samples)
                    if z is not None and abs(z) > self.z_threshold:
                        zs = "inf" if math.isinf(z) else f"{z:.1f}"
                        findings.append(self._finding("argument_anomaly", "P2", 0.8, i, f"{name}.{arg} z={zs}"))
                elif isinstance(value, str | bool):
                    text = str(value)
                    if self.baseline.unseen(call.app, name, arg, text, self.min_samples):
                        findings.append(self._finding("argument_anomaly", "P2", 0.6, i, f"{name}.{arg} unseen value"))
                    elif (usual := self.baseline.new_shape(call.app, name, arg, text, self.min_samples)) is not None:
                        findings.append(self._finding("argument_anomaly", "P2", 0.6, i,
                                                      f"{name}.{arg} {shape(text)} where {usual} is usual"))
        return findings

    def learn(self, call: CallView) -> None:
        """Add an unflagged call's tool arguments to the baseline (the caller decides what is clean)."""
        if not self.learning:
            return
        for tool in call.tool_calls:
            args = arguments_of(tool)
            if isinstance(args, dict):
                self.baseline.observe(call.app, str(tool.get("name") or ""), args)

    def _finding(self, kind: str, severity: str, confidence: float, item: int, what: str) -> Finding:
        # Evidence names the tool and argument only: argument values may hold personal data.
        return Finding(
            detector=self.name,
            kind=kind,
            severity=severity,
            confidence=confidence,
            location="tool",
            start=None,
            end=None,
            evidence=what,
            item=item,
        )
