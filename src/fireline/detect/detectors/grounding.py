"""grounding: the answer cites a document id that was not in the call's retrieval set, or
asserts what the retrieved text does not support (see `support.py`: `unsupported_claim`,
`contradicted_claim`; option `check_support`, on by default).

Recognised citation forms: [kb-7], [doc:abc], [source: kb-7], (source: kb-7), 【kb-7】. A cited
id that matches neither a retrieved document's id nor its source is "ungrounded_citation"
(P2): the model invented a source or cites one from another context. Plain numeric markers
like [1] are ignored (they index into a list we do not see), and so are markdown links.
"""

from __future__ import annotations

import re
from typing import Any

from fireline.detect.detectors.base import CallView, Finding, evidence, option
from fireline.detect.detectors.support import SupportChecker, config_flag

# An id has a letter and a digit or separator, so words in brackets ("[sic]", "[citation]") are not ids.
_ID = r"[A-Za-z][\w.:/-]*[\d_.:/-][\w.:/-]*|[A-Za-z][\w.-]*\d[\w.-]*"
_CITATION = re.compile(
    rf"\[(?:(?:doc|source|ref|id)\s*[:=]\s*)?({_ID})\](?!\()"
    rf"|\((?:source|doc|ref)\s*[:=]\s*({_ID})\)"
    rf"|\u3010({_ID})(?:\u2020[^\u3011]*)?\u3011"
)


class GroundingDetector:
    name = "grounding"

    def __init__(self, config: dict[str, Any]) -> None:
        # Without retrieval, a citation is fabricated for sure, but apps that cite a static
        # catalogue would be flagged on every call: off unless asked for.
        self.flag_without_retrieval = bool(option(config, "flag_without_retrieval", False))
        self.support = SupportChecker() if config_flag(config) else None

    def detect(self, call: CallView) -> list[Finding]:
        claims = self.support.check(call, self.name) if self.support is not None and call.retrieval else []
        return self.citations(call) + claims

    def citations(self, call: CallView) -> list[Finding]:
        text = call.output_text
        if "[" not in text and "(" not in text and "\u3010" not in text:
            return []
        if not call.retrieval and not self.flag_without_retrieval:
            return []
        known: set[str] = set()
        for doc in call.retrieval:
            for key in ("id", "source"):
                if doc.get(key) is not None:
                    known.add(str(doc[key]).lower())
        findings: list[Finding] = []
        for m in _CITATION.finditer(text):
            cited = next(g for g in m.groups() if g)
            if cited.lower().rstrip(".:") in known:
                continue
            findings.append(
                Finding(
                    detector=self.name,
                    kind="ungrounded_citation",
                    severity="P2",
                    confidence=0.8 if call.retrieval else 0.6,
                    location="output",
                    start=m.start(),
                    end=m.end(),
                    entity=None,
                    evidence=evidence(text, m.start(), m.end(), spans=call.scan_of(text)),
                )
            )
        return findings
