"""canary: a tenant's canary token served to another tenant is a cross-tenant leak (P0).

Tenants plant unique tokens in their own documents; no PII pattern can see that acme's
contract reached globex, but the token can. All tokens are searched in one pass with one
regex built as a trie (CPython's `re` does not merge a flat alternation, so a trie keeps the
cost per character flat as tokens are added); it is rebuilt only when the token set changes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, evidence, trie_pattern

CanaryProvider = Callable[[], dict[str, str]]  # token -> owning tenant


class CanaryDetector:
    name = "canary"

    def __init__(self, config: dict[str, Any], canaries: CanaryProvider | None = None) -> None:
        static = {str(k): str(v) for k, v in (config.get("tokens") or {}).items()}
        self._provider: CanaryProvider = canaries or (lambda: static)
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def _current(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        tokens = self._provider()
        if tokens is not self._tokens and tokens != self._tokens:
            with self._lock:
                snapshot = dict(tokens)
                usable = sorted(t for t in snapshot if t)
                self._pattern = re.compile(trie_pattern(usable)) if usable else None
                self._tokens = snapshot
        return self._pattern, self._tokens

    def detect(self, call: CallView) -> list[Finding]:
        pattern, owners = self._current()
        if pattern is None:
            return []
        findings: list[Finding] = []
        places: list[tuple[str, int | None, str]] = [("output", None, call.output_text)]
        places += [("retrieval", i, str(doc.get("text") or "")) for i, doc in enumerate(call.retrieval)]
        places += [("tool", i, text) for i, text in enumerate(call.tool_results)]
        egress = [("tool_arguments", i, call.tool_text(i)) for i in range(len(call.tool_calls))]
        for location, item, text in places + egress:
            for m in pattern.finditer(text):
                owner = owners.get(m.group())
                if owner is None or owner == call.tenant:
                    continue
                served = location == "output"
                sent = location == "tool_arguments"  # another tenant's data leaving through a tool call
                findings.append(
                    Finding(
                        detector=self.name,
                        # In the context only, the model has not shown it yet: still a retrieval bug.
                        kind="canary_leak" if served else "canary_egress" if sent else "canary_in_context",
                        severity="P0" if served or sent else "P1",
                        confidence=1.0,
                        location="tool" if sent else location,
                        start=m.start(),
                        end=m.end(),
                        entity="CANARY",
                        evidence=evidence(text, m.start(), m.end(), f"CANARY of tenant {owner}", call.scan_of(text)),
                        item=item,
                    )
                )
        return findings
