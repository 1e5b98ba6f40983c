"""The shipped monitors, in the same form as the YAML `monitors:` section (types per TAXONOMY.md).

`detect.monitor_defs.load_monitors` merges the section over these, in this order: the order in
which the engine feeds and evaluates them.
"""

from __future__ import annotations

from typing import Any

import yaml

DEFAULTS_YAML = """
- name: output_guardrail_blocks
  signal: findings
  match: {detector: [guardrail], kind: [output_block]}
  window: 10m
  condition: ratio >= 5
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P1
  title: "Output guardrail blocks at {ratio:.1f}x baseline on {group}"
- name: harmful_reports
  signal: reports
  match: {report_kind: [harmful]}
  window: 1h
  condition: ratio >= 2
  min_count: 3
  baseline: {days: 7, default: 0.5, floor: 0.5, min_volume: 200}
  type: harmful_output
  severity: P1
  title: "Harmful-content reports {value:g}/h ({ratio:.1f}x baseline) on {group}"
- name: pii_secret_leak
  signal: findings
  match: {detector: [pii, secrets], kind: [pii_leak, secret_leak], location: [output]}
  aggregate: count
  window: 15m
  condition: any
  type: data_leakage
  severity: P1
  title: "PII or secret leaked in output on {group}"
- name: canary_leak
  signal: findings
  match: {detector: [canary], kind: [canary_leak]}
  aggregate: count
  window: 15m
  condition: any
  type: data_leakage
  severity: P0
  title: "Another tenant's canary token served on {group}"
- name: tool_data_egress
  signal: findings
  match: {detector: [pii, secrets, canary], kind: [pii_egress, secret_egress, canary_egress], location: [tool]}
  aggregate: count
  window: 15m
  condition: any
  group_by: [app, tool]
  type: data_leakage
  severity: P1
  title: "Personal data, a secret or another tenant's data sent out through a tool call on {group}"
- name: harmful_output_rate
  signal: findings
  match: {detector: [harmful_output], location: [output]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: harmful_output
  severity: P1
  title: "Harmful content in {value:.0%} of answers ({ratio:.1f}x baseline) on {group}"
- name: jailbreak_compliance
  signal: findings
  match: {detector: [jailbreak]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.005, floor: 0.002, min_volume: 200}
  type: policy_bypass
  severity: P1
  title: "Answers going along with jailbreak attempts in {value:.0%} of calls ({ratio:.1f}x baseline) on {group}"
- name: injection_wave
  signal: findings
  match: {detector: [prompt_injection]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P2
  title: "Prompt-injection markers in {value:.0%} of calls ({ratio:.1f}x baseline) on {group}"
- name: ungrounded_citations
  signal: findings
  match: {detector: [grounding], kind: [ungrounded_citation]}
  window: 10m
  condition: ratio >= 3
  min_volume: 10
  min_count: 3
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: hallucination
  severity: P2
  title: "Answers citing documents never retrieved: {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: hallucination_rate
  signal: findings
  match: {detector: [grounding], kind: [unsupported_claim, contradicted_claim]}
  window: 1h
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.03, floor: 0.01, min_volume: 200}
  type: hallucination
  severity: P2
  title: "Answers asserting what the retrieved documents do not say: {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: tool_argument_anomaly
  signal: findings
  match: {detector: [tool_policy], kind: [argument_anomaly, forbidden_write, destructive_write]}
  aggregate: count
  window: 15m
  condition: any
  group_by: [app, tool]
  type: agentic_harm
  severity: P2
  title: "Tool call outside its policy or baseline on {group}"
- name: refusal_rate
  signal: findings
  match: {detector: [refusal]}
  window: 30m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: capability_loss
  severity: P2
  title: "Refusal rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: cost_per_hour
  signal: cost
  window: 1h
  condition: ratio >= 2
  min_count: 0
  min_value: 1.0
  baseline: {days: 7, default: 5.0, floor: 0.5, min_volume: 200}
  type: cost_runaway
  severity: P2
  title: "Cost ${value:.2f}/h is {ratio:.1f}x baseline on {group}"
- name: latency_p99
  signal: latency
  window: 10m
  condition: ratio >= 2
  min_volume: 20
  min_count: 0
  min_value: 1000
  baseline: {days: 7, default: 10000, floor: 200, min_volume: 200}
  type: availability
  severity: P2
  title: "p99 latency {value:.0f} ms is {ratio:.1f}x baseline on {group}"
- name: error_rate
  signal: errors
  match: {status: [error]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  min_value: 0.2
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: availability
  severity: P1
  title: "Error rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: thumbs_down_rate
  signal: reports
  match: {report_kind: [thumbs_down]}
  aggregate: rate
  window: 1h
  condition: ratio >= 2
  min_volume: 20
  min_count: 5
  min_value: 0.05
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: quality_degradation
  severity: P2
  title: "Thumbs-down rate {value:.0%} is {ratio:.1f}x baseline on {group}"
- name: corrupted_output_rate
  signal: findings
  match: {detector: [output_quality], kind: [garbled_output, wrong_language]}
  window: 30m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  group_by: [app, model]
  type: quality_degradation
  severity: P2
  title: "Garbled or wrong-language answers {value:.1%} ({ratio:.1f}x baseline) on {group}"
- name: output_length
  signal: distribution
  feature: output_tokens
  aggregate: mean
  window: 30m
  condition: ratio >= 2
  min_volume: 20
  min_count: 0
  baseline: {days: 7, default: 0, floor: 1, min_volume: 200}
  group_by: [app, alias, prompt_version]
  type: quality_degradation
  severity: P2
  title: "Answers {ratio:.1f}x longer than baseline ({value:.0f} tokens) on {group}"
- name: output_length_drop
  signal: distribution
  feature: output_tokens
  aggregate: mean
  window: 30m
  condition: ratio <= 0.4
  min_volume: 20
  min_count: 0
  baseline: {days: 7, default: 0, floor: 1, min_volume: 200}
  group_by: [app, alias, prompt_version]
  type: quality_degradation
  severity: P2
  title: "Answers shrank to {ratio:.0%} of baseline length on {group}"
- name: output_language_shift
  signal: distribution
  feature: output_language
  window: 1h
  condition: value >= 0.25
  min_volume: 50
  min_count: 0
  baseline: {days: 7, min_volume: 300}
  group_by: [app, model]
  type: quality_degradation
  severity: P2
  title: "Answer language mix shifted (PSI {value:.2f}) on {group}"
- name: input_length_drift
  signal: distribution
  feature: input_tokens
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "Input length distribution shifted (PSI {value:.2f}) on {group}"
- name: input_language_drift
  signal: distribution
  feature: input_language
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "Input language mix shifted (PSI {value:.2f}) on {group}"
- name: input_topic_drift
  signal: distribution
  feature: input_topic
  window: 1h
  condition: value >= 0.25
  min_volume: 100
  min_count: 0
  baseline: {days: 7, min_volume: 500}
  type: distribution_shift
  severity: P3
  title: "What users ask about shifted (topic PSI {value:.2f}) on {group}"
- name: semantic_jailbreak_wave
  signal: findings
  match: {detector: [semantic], kind: [jailbreak_like]}
  window: 10m
  condition: ratio >= 3
  min_volume: 20
  min_count: 5
  baseline: {days: 7, default: 0.01, floor: 0.005, min_volume: 200}
  type: prompt_injection
  severity: P2
  title: "Jailbreak-like messages {value:.0%} ({ratio:.1f}x baseline) on {group}"
- name: complaint_rate
  signal: findings
  match: {detector: [semantic], kind: [complaint]}
  window: 1h
  condition: ratio >= 2
  min_volume: 20
  min_count: 5
  min_value: 0.05
  baseline: {days: 7, default: 0.02, floor: 0.01, min_volume: 200}
  type: quality_degradation
  severity: P2
  title: "Users complain in {value:.0%} of messages ({ratio:.1f}x baseline) on {group}"
- name: refusal_disparity
  signal: findings
  match: {detector: [refusal]}
  compare: {across: cohort, measure: ratio, min_sample: 30, alpha: 0.01}
  window: 24h
  condition: ratio >= 2
  min_count: 5
  group_by: [app, cohort]
  type: bias
  severity: P2
  title: "Cohort refused {ratio:.1f}x as often as the rest ({value:.0%} vs {baseline:.0%}) on {group}"
- name: traffic_drop
  enabled: false
  signal: calls
  window: 10m
  condition: ratio <= 0.2
  min_count: 0
  baseline: {days: 7, default: 0, floor: 0, min_volume: 1000}
  type: availability
  severity: P2
  title: "Traffic on {group} dropped to {ratio:.0%} of baseline"
"""
DEFAULTS: list[dict[str, Any]] = yaml.load(DEFAULTS_YAML, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
