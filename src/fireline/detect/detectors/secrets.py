"""secrets: credentials (cloud keys, provider API keys, private keys, JWTs, DSNs with passwords).

A secret in the output is "secret_leak" (P1) whether or not the user pasted it: a model that
repeats credentials into a log or a chat transcript spreads them. A secret the user pasted is
"secret_input" (P2): the prompt log now holds a live credential that should be rotated. A
secret in any tool call's arguments that the user did not paste is "secret_egress" (P1,
location tool): a credential sent out by the agent.
"""

from __future__ import annotations

from typing import Any

from fireline.detect.detectors.base import CallView, Finding, evidence, option
from fireline.pii import SECRET_TYPES


class SecretsDetector:
    name = "secrets"

    def __init__(self, config: dict[str, Any]) -> None:
        self.report_input = bool(option(config, "report_input", True))
        self.entities = frozenset(option(config, "entities", sorted(SECRET_TYPES)))

    def detect(self, call: CallView) -> list[Finding]:
        findings: list[Finding] = []
        locations = ("output", "input") if self.report_input else ("output",)
        for location in locations:
            text = call.output_text if location == "output" else call.input_text
            spans = call.spans(location)
            for entity, s, e in spans:
                if entity not in self.entities:
                    continue
                findings.append(
                    Finding(
                        detector=self.name,
                        kind="secret_leak" if location == "output" else "secret_input",
                        severity="P1" if location == "output" else "P2",
                        confidence=0.95,
                        location=location,
                        start=s,
                        end=e,
                        entity=entity,
                        evidence=evidence(text, s, e, entity, spans),
                        item=call.message_index(s) if location == "input" else None,
                    )
                )
        if call.tool_calls:
            findings.extend(self._egress(call))
        return findings

    def _egress(self, call: CallView) -> list[Finding]:
        pasted = {call.input_text[s:e] for ent, s, e in call.spans("input") if ent in self.entities} \
            if call.input_text else set()
        out = []
        for i, tool in enumerate(call.tool_calls):
            text = call.tool_text(i)
            if not text:
                continue
            spans = call.spans(f"tool:{i}")
            for entity, s, e in spans:
                if entity in self.entities and text[s:e] not in pasted:
                    out.append(Finding(detector=self.name, kind="secret_egress", severity="P1", confidence=0.95,
                                       location="tool", start=s, end=e, entity=entity,
                                       evidence=f"{tool.get('name') or ''}: " + evidence(text, s, e, entity, spans),
                                       item=i))
        return out
