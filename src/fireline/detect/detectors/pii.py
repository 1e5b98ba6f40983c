"""pii: personal data in the answer that the user did not give it.

PII the model produced (from retrieval, memory or another user's data) is the leak signal:
kind "pii_leak", P1. PII the user typed and the model repeated back ("your order for
alice@example.com") is normal and NOT reported unless `report_echo` is on (kind "pii_echo",
P3). PII in the input is reported as "pii_input" (P3) so the prompt log knows it holds personal
data; `report_input: false` turns that off.

Outbound data: PII in the arguments of a write tool (send_email, http_post, update_record...)
that the user did not type is "pii_egress" (P1, location tool): personal data leaving the
system through the agent, the data_leakage signal with a GDPR clock. Read tools are not
scanned (a lookup by e-mail sends nothing anywhere); `report_egress: false` turns it off.
"""

from __future__ import annotations

from typing import Any

from fireline.detect.detectors.base import CallView, Finding, Span, evidence, option
from fireline.pii import ID_TYPES, VALIDATED_TYPES


def value_key(entity: str, value: str) -> str:
    """Normalise a PII value so "+1 (202) 555-0143" in the input matches "202-555-0143" in the output."""
    if entity == "EMAIL_ADDRESS":
        return value.strip().lower()
    if entity == "IBAN_CODE":
        return value.replace(" ", "").upper()
    if entity == "IP_ADDRESS" and ":" in value:
        return value.lower()
    digits = "".join(ch for ch in value if ch.isdigit())
    if entity == "PHONE_NUMBER":
        return digits[-9:]  # country code and trunk prefix vary between mentions
    return digits or value


class PiiDetector:
    name = "pii"

    def __init__(self, config: dict[str, Any]) -> None:
        self.report_echo = bool(option(config, "report_echo", False))
        self.report_input = bool(option(config, "report_input", True))
        # Names, places, dates and the like are redacted from the stored copy but not reported by
        # default: an answer naming a city or a person is not a leak. `entities` can add them.
        self.entities = frozenset(option(config, "entities", sorted(VALIDATED_TYPES | ID_TYPES)))
        self.report_egress = bool(option(config, "report_egress", True))

    def detect(self, call: CallView) -> list[Finding]:
        out_spans = [sp for sp in call.spans("output") if sp[0] in self.entities]
        writes = [i for i, t in enumerate(call.tool_calls) if t.get("kind") == "write"] if self.report_egress else []
        in_spans = (
            [sp for sp in call.spans("input") if sp[0] in self.entities]
            if (out_spans or writes or self.report_input) and call.input_text
            else []
        )
        findings: list[Finding] = []
        if self.report_input:
            findings.extend(self._input_findings(call, in_spans))
        if not out_spans and not writes:
            return findings
        typed = {value_key(e, call.input_text[s:x]) for e, s, x in in_spans}
        for i in writes:
            findings.extend(self._egress(call, i, typed))
        for entity, s, e in out_spans:
            echoed = value_key(entity, call.output_text[s:e]) in typed
            if echoed and not self.report_echo:
                continue
            findings.append(
                Finding(
                    detector=self.name,
                    kind="pii_echo" if echoed else "pii_leak",
                    severity="P3" if echoed else "P1",
                    confidence=0.9 if entity != "PHONE_NUMBER" else 0.75,
                    location="output",
                    start=s,
                    end=e,
                    entity=entity,
                    evidence=evidence(call.output_text, s, e, entity, call.spans("output")),
                )
            )
        return findings

    def _egress(self, call: CallView, i: int, typed: set[str]) -> list[Finding]:
        text = call.tool_text(i)
        spans = call.spans(f"tool:{i}")
        name = str(call.tool_calls[i].get("name") or "")
        return [
            Finding(detector=self.name, kind="pii_egress", severity="P1",
                    confidence=0.9 if entity != "PHONE_NUMBER" else 0.75, location="tool", start=s, end=e,
                    entity=entity, evidence=f"{name}: " + evidence(text, s, e, entity, spans), item=i)
            for entity, s, e in spans
            if entity in self.entities and value_key(entity, text[s:e]) not in typed
        ]

    def _input_findings(self, call: CallView, spans: list[Span]) -> list[Finding]:
        return [
            Finding(
                detector=self.name,
                kind="pii_input",
                severity="P3",
                confidence=0.9,
                location="input",
                start=s,
                end=e,
                entity=entity,
                evidence=evidence(call.input_text, s, e, entity, call.spans("input")),
                item=call.message_index(s),
            )
            for entity, s, e in spans
        ]
