"""Incident types of TAXONOMY.md with their public ids, and the default triage matrix.

A static table in code: auditors read the ids straight off every incident.
"""

from __future__ import annotations

from dataclasses import dataclass

from fireline.errors import Invalid
from fireline.signals import SEVERITIES


@dataclass(frozen=True, slots=True)
class IncidentType:
    name: str
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]
    nist: tuple[str, ...]
    severity: str  # the default severity of the triage matrix
    playbook: str  # the default playbook name of the triage matrix


def _t(name: str, owasp: str, atlas: str, nist: str, severity: str, playbook: str | None = None) -> IncidentType:
    split = lambda s: tuple(p.strip() for p in s.split(";") if p.strip())  # noqa: E731
    return IncidentType(name, split(owasp), split(atlas), split(nist), severity, playbook or name)


TYPES: dict[str, IncidentType] = {t.name: t for t in (
    _t("harmful_output", "LLM05", "AML.T0048 External Harms",
       "Dangerous, Violent or Hateful Content; Obscene content; CBRN", "P0"),
    _t("policy_bypass", "LLM01", "AML.T0054 LLM Jailbreak; AML.T0068 Prompt Obfuscation",
       "Information Security", "P1"),
    _t("data_leakage", "LLM02; LLM07; LLM08",
       "AML.T0057 LLM Data Leakage; AML.T0056 Extract System Prompt; AML.T0086 Exfiltration via Agent Tool",
       "Data Privacy", "P0"),
    _t("hallucination", "LLM09", "AML.T0062; AML.T0060", "Confabulation; Information Integrity", "P1"),
    _t("agentic_harm", "LLM06",
       "AML.T0053 Agent Tool Invocation; AML.T0101 Data Destruction via Agent Tool",
       "Information Security; Human-AI Configuration", "P0"),
    _t("prompt_injection", "LLM01",
       "AML.T0051.000 Direct; AML.T0051.001 Indirect; AML.T0070 RAG Poisoning; AML.T0080 Context Poisoning",
       "Information Security", "P1"),
    _t("bias", "", "AML.T0048.002 Societal Harm", "Harmful Bias or Homogenization", "P2"),
    _t("quality_degradation", "LLM03; LLM04", "AML.T0031 Erode Model Integrity", "Confabulation; Value Chain",
       "P2"),
    _t("capability_loss", "", "AML.T0029 Denial of AI Service", "", "P1"),
    _t("cost_runaway", "LLM10", "AML.T0034 Cost Harvesting", "", "P1"),
    _t("distribution_shift", "", "AML.T0015 Evade Model", "Harmful Bias or Homogenization", "P3"),
    _t("data_poisoning", "LLM04; LLM08", "AML.T0020; AML.T0070", "Information Security; Value Chain", "P1"),
    _t("model_extraction", "LLM10", "AML.T0024.002 Extract AI Model", "Intellectual Property", "P2"),
    _t("availability", "", "", "", "P1"),
)}

# Signals (detector or metric names) that raise the default severity of a type.
DEFAULT_SIGNALS: dict[tuple[str, str], str] = {
    ("data_leakage", "canary"): "P0",
    ("data_leakage", "secrets"): "P0",
    ("data_leakage", "pii"): "P0",
    ("agentic_harm", "tool_policy"): "P0",
    ("hallucination", "grounding"): "P2",
    ("capability_loss", "refusal"): "P2",
    ("prompt_injection", "prompt_injection"): "P1",
    ("harmful_output", "harmful_output"): "P0",
}


def incident_type(name: str) -> IncidentType:
    found = TYPES.get(name)
    if found is None:
        raise Invalid(f"type: unknown incident type {name!r}; one of {', '.join(TYPES)}",
                      field="type", allowed=list(TYPES))
    return found


def check_severity(value: str) -> str:
    if value not in SEVERITIES:
        raise Invalid(f"severity: {value!r} is not one of {', '.join(SEVERITIES)}", field="severity",
                      allowed=list(SEVERITIES))
    return value


@dataclass(frozen=True, slots=True)
class Triage:
    severity: str
    playbook: str
    rule: str  # which row decided: "config:<type>.<signal>", "default:<type>", ...


def check_triage(matrix: object) -> list[str]:
    """Validate the `triage` section at start (Invalid naming the field); returns the playbook
    names it refers to, so the controls part can check they exist."""
    if matrix is None:
        return []
    if not isinstance(matrix, dict):
        raise Invalid("triage: a mapping of incident type -> {severity, playbook, signals}", field="triage")
    named: list[str] = []
    for type_name, row in matrix.items():
        where = f"triage.{type_name}"
        if type_name not in TYPES:
            raise Invalid(f"{where}: not an incident type ({', '.join(sorted(TYPES))})", field=where)
        if not isinstance(row, dict):
            raise Invalid(f"{where}: a mapping with severity, playbook, signals", field=where)
        cells: list[tuple[str, object]] = [(where, row)]
        unknown = set(row) - {"severity", "playbook", "signals"}
        if unknown:
            raise Invalid(f"{where}.{sorted(unknown)[0]}: unknown key; use severity, playbook, signals", field=where)
        signals = row.get("signals") or {}
        if not isinstance(signals, dict):
            raise Invalid(f"{where}.signals: a mapping of signal -> {{severity, playbook}}", field=f"{where}.signals")
        cells += [(f"{where}.signals.{name}", cell) for name, cell in signals.items()]
        for path, cell in cells:
            if not isinstance(cell, dict):
                raise Invalid(f"{path}: a mapping with severity and playbook", field=path)
            if cell.get("severity") is not None and cell["severity"] not in SEVERITIES:
                raise Invalid(f"{path}.severity: {cell['severity']!r} is not one of {', '.join(SEVERITIES)}",
                              field=f"{path}.severity")
            if cell.get("playbook") is not None:
                named.append(str(cell["playbook"]))
    return named


def triage(matrix: dict[str, object] | None, type_name: str, signal: str | None,
           fallback_severity: str | None = None) -> Triage:
    """Type x signal -> severity + playbook. The configured matrix wins over the defaults;
    an alert's own severity wins over the defaults but not over the configured matrix.

    Config shape (section `triage`)::

        triage:
          data_leakage: {severity: P0, playbook: leak, signals: {pii: {severity: P0}, canary: {...}}}
    """
    t = incident_type(type_name)
    row = (matrix or {}).get(type_name)
    if isinstance(row, dict):
        signals = row.get("signals") or {}
        cell = signals.get(signal) if signal and isinstance(signals, dict) else None
        if isinstance(cell, dict) and cell.get("severity"):
            return Triage(check_severity(str(cell["severity"])),
                          str(cell.get("playbook") or row.get("playbook") or t.playbook),
                          f"config:{type_name}.{signal}")
        if row.get("severity"):
            return Triage(check_severity(str(row["severity"])), str(row.get("playbook") or t.playbook),
                          f"config:{type_name}")
        playbook = str(row.get("playbook") or t.playbook)
    else:
        playbook = t.playbook
    if fallback_severity in SEVERITIES:
        return Triage(str(fallback_severity), playbook, "alert")
    if signal and (type_name, signal) in DEFAULT_SIGNALS:
        return Triage(DEFAULT_SIGNALS[(type_name, signal)], playbook, f"default:{type_name}.{signal}")
    return Triage(t.severity, playbook, f"default:{type_name}")
