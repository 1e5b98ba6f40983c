#!/usr/bin/env python3
"""Cost of declared policies per call, in process: what they add to ingest and the gateway.

The same ~2 KB support answers as bench/ingest.py, as a call's output, checked against 0, 5 and 50
output rules (deny terms and RE2 deny patterns, as a team would write them) and 5 tool-argument
rules; beside it, the obvious implementation (one CPython `re` search per term and per pattern),
measured in the same run on the same texts.

  .venv/bin/python bench/policies.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable
from typing import Any

from fireline.detect.detectors.base import CallView
from fireline.detect.policies import load_policies
from fireline.detect.policy_match import PolicyEngine

FILLER = ("Thanks for reaching out about your order. Our records show the parcel left the warehouse "
          "yesterday and should arrive within two business days. ")
BRANDS = ["Ford", "Tesla", "Toyota", "Honda", "Nissan", "Kia", "Hyundai", "BMW", "Audi", "Volvo"]


def rules(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append({"name": f"r{i}", "app": "bot", "target": "output", "type": "policy_bypass", "severity": "P1",
                    "action": "block", "deny_terms": [f"{BRANDS[i % 10]}{i // 10 or ''}", f"competitor{i}"],
                    "deny_patterns": [rf"(?i)\bcode\s*{i}\d{{3}}\b", rf"(?i)legally\s+binding\s+{i}"]})
    return out


TOOL_RULES = [
    {"name": "sql", "app": "bot", "target": "tool_arguments", "tool": "run_sql",
     "deny_patterns": [r"(?i)\b(drop|truncate|delete)\b"], "type": "agentic_harm", "severity": "P0"},
    {"name": "mail", "app": "bot", "target": "tool_arguments", "tool": "send_email", "argument": "to",
     "allow_patterns": [r"@acme\.example$"], "type": "data_leakage", "severity": "P0"},
    {"name": "cap", "app": "bot", "target": "tool_arguments", "tool": "discount", "argument": "percent", "max": 15,
     "type": "agentic_harm", "severity": "P1"},
    {"name": "links", "app": "bot", "target": "tool_arguments", "tool": "fetch", "argument": "url",
     "allow_domains": ["acme.example"], "type": "data_leakage", "severity": "P1"},
    {"name": "words", "app": "bot", "target": "tool_arguments", "deny_terms": ["password", "ssn"],
     "type": "data_leakage", "severity": "P1"},
]


def views(n: int, rng: random.Random) -> list[CallView]:
    out = []
    for i in range(n):
        text = FILLER * 12 + (f" A {rng.choice(BRANDS)} might suit you." if rng.random() < 0.05 else "")
        tools = [{"name": "send_email", "arguments": {"to": f"user{i}@acme.example", "body": FILLER}},
                 {"name": "run_sql", "arguments": {"query": "SELECT * FROM orders WHERE id = 7"}},
                 {"name": "discount", "arguments": {"percent": 10}}]
        out.append(CallView.from_record({"app": "bot", "input": [{"role": "user", "content": "hi"}], "output": text,
                                         "tool_calls": tools}))
    return out


def naive(specs: list[dict[str, Any]]) -> Callable[[CallView], int]:
    """One `re` search per term (word boundaries, case-insensitive) and per pattern."""
    compiled = [re.compile(rf"(?i)\b{re.escape(t)}\b") for s in specs for t in s.get("deny_terms", [])]
    compiled += [re.compile(p) for s in specs for p in s.get("deny_patterns", [])]
    return lambda v: sum(1 for p in compiled if p.search(v.output_text))


def per_call(fn: Callable[[CallView], Any], calls: list[CallView], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for v in calls:
            fn(v)
        best = min(best, (time.perf_counter() - t0) / len(calls))
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    calls = views(args.calls, random.Random(7))
    no_tools = [CallView(app=v.app, input_text=v.input_text, output_text=v.output_text) for v in calls]
    print(f"{args.calls} calls, output {len(calls[0].output_text)} chars; best of 3 runs, us per call")
    print(f"{'rules':<34}{'fireline':>10}{'naive re loop':>16}")
    other = PolicyEngine(load_policies(rules(5)))
    print(f"{'app without rules (5 elsewhere)':<34}{per_call(lambda v: other.check(CallView(app='x')), calls):>10.1f}"
          f"{'':>16}")
    results = {}
    for n in (5, 50):
        engine = PolicyEngine(load_policies(rules(n)))
        ours, theirs = per_call(engine.check, no_tools), per_call(naive(rules(n)), no_tools)
        results[n] = ours
        print(f"{f'{n} output rules ({2 * n} terms, {2 * n} patterns)':<34}{ours:>10.1f}{theirs:>16.1f}")
    tool_engine = PolicyEngine(load_policies(TOOL_RULES))
    tools = per_call(tool_engine.check, calls)
    print(f"{'5 tool-argument rules, 3 tool calls':<34}{tools:>10.1f}")
    print(f"RESULT policies_none_us=0 policies_5_output_us={results[5]:.1f} policies_50_output_us={results[50]:.1f} "
          f"policies_5_tool_us={tools:.1f}")


if __name__ == "__main__":
    main()
