"""tool_policy: a write tool called where the app forbids writes, and arguments far outside a
tool's baseline.

Policy: `forbid_write: [app, ...]` or `apps: {app: {allow_write: false}}` in the detector's
config; a call's tool with kind "write" in such an app is "forbidden_write" (P1).

Baseline: per (app, tool, argument) a running mean/variance (Welford) of numeric values and
the set of categorical values seen. After `min_samples` observations, a numeric value with
|z| > `z_threshold` or a categorical value never seen before is "argument_anomaly" (P2). Every
call is observed after it is checked, so the baseline follows the traffic.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, option

_MAX_CATEGORIES = 1000  # beyond this an argument is free text, not a category


@dataclass(slots=True)
class _Stats:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    values: set[str] = field(default_factory=set)
    categorical_n: int = 0


class ArgumentBaseline:
    """Running per-(app, tool, argument) statistics; one lock, updates are O(1)."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str, str], _Stats] = {}
        self._lock = threading.Lock()

    def observe(self, app: str, tool: str, arguments: dict[str, Any]) -> None:
        with self._lock:
            for arg, value in arguments.items():
                st = self._stats.setdefault((app, tool, arg), _Stats())
                if _is_number(value):
                    x = float(value)
                    st.n += 1
                    delta = x - st.mean
                    st.mean += delta / st.n
                    st.m2 += delta * (x - st.mean)
                elif isinstance(value, str | bool):
                    st.categorical_n += 1
                    if len(st.values) < _MAX_CATEGORIES:
                        st.values.add(str(value))

    def zscore(self, app: str, tool: str, arg: str, value: float, min_samples: int) -> float | None:
        st = self._stats.get((app, tool, arg))
        if st is None or st.n < min_samples:
            return None
        std = math.sqrt(st.m2 / (st.n - 1)) if st.n > 1 else 0.0
        if std == 0.0:
            return math.inf if value != st.mean else 0.0
        return (value - st.mean) / std

    def unseen(self, app: str, tool: str, arg: str, value: str, min_samples: int) -> bool:
        st = self._stats.get((app, tool, arg))
        if st is None or st.categorical_n < min_samples or len(st.values) >= _MAX_CATEGORIES:
            return False
        return value not in st.values


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
        self.learn = bool(option(config, "learn", True))
        self.baseline = baseline or ArgumentBaseline()

    def detect(self, call: CallView) -> list[Finding]:
        findings: list[Finding] = []
        for i, tool in enumerate(call.tool_calls):
            name = str(tool.get("name") or "")
            if tool.get("kind") == "write" and call.app in self.forbid_write:
                findings.append(self._finding("forbidden_write", "P1", 1.0, i, f"{name} (write) in {call.app}"))
            args = tool.get("arguments")
            if not isinstance(args, dict):
                continue
            for arg, value in args.items():
                if _is_number(value):
                    z = self.baseline.zscore(call.app, name, arg, float(value), self.min_samples)
                    if z is not None and abs(z) > self.z_threshold:
                        zs = "inf" if math.isinf(z) else f"{z:.1f}"
                        findings.append(self._finding("argument_anomaly", "P2", 0.8, i, f"{name}.{arg} z={zs}"))
                elif isinstance(value, str | bool) and self.baseline.unseen(
                    call.app, name, arg, str(value), self.min_samples
                ):
                    findings.append(self._finding("argument_anomaly", "P2", 0.6, i, f"{name}.{arg} unseen value"))
            if self.learn:
                self.baseline.observe(call.app, name, args)
        return findings

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
