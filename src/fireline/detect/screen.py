"""The stateless part of detection: what may run in another process before a batch is stored.

Every detector but tool_policy is a pure function of one call (canary reads a snapshot of the
token list); so are the quality profile, the topic and the stored labels, and the declared
policies unless a tool-argument rule reads detector findings (tool_policy's are on the tool
arguments). `StatelessPass.run` does that part and leaves its result on each call
(`extras["screen"]`, picklable); `Detection.process` (detect.service) adds what has state in
this process: the tool-argument baseline (learned call by call, from the calls that carried no
finding), session limits (counted here or in a shared store), the metrics. The gateway's helper
process runs this pass with the preparation (gateway.prepare), so the serving process never
holds the GIL for it; native ingest and a gateway without a helper run it in the writer's
thread. Same code either way: the findings do not depend on where it ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fireline.calls.service import PreparedCall
from fireline.config import Config
from fireline.detect.detectors import ArgumentBaseline, CallView, Detector, Finding, build_detectors, run_all
from fireline.detect.detectors.output_quality import last_user_text
from fireline.detect.detectors.output_quality import profile as quality_profile
from fireline.detect.features import COLUMNS as FEATURE_COLUMNS
from fireline.detect.features import labels_of
from fireline.detect.policies import load_policies
from fireline.detect.policy_match import PolicyEngine
from fireline.events import where

log = logging.getLogger("fireline.detect")

STATEFUL = frozenset({"tool_policy"})  # its argument baseline learns call by call, in the serving process
SCREEN = "screen"  # the PreparedCall.extras key of a call's Screen


@dataclass(slots=True)
class Screen:
    """What the stateless pass made of one call."""

    found: dict[str, list[Finding]] = field(default_factory=dict)  # per stateless detector that found any
    policy: list[Finding] | None = None  # None: the policies run with the state (policies_need_state)
    failed: str | None = None  # the detectors, profile or labels failed: the call gets no findings
    policy_failed: str | None = None  # the policies failed: the call keeps its other findings


def policy_engine(config: Config, detectors: Iterable[Any] = ()) -> PolicyEngine:
    """The config's policies, compiled; categories a policy names are computed by the detectors
    that own them (harmful_output's lexicon categories)."""
    categorizers = {d.name: d.categories for d in detectors if callable(getattr(d, "categories", None))}
    return PolicyEngine(load_policies(config.section("policies")), categorizers)


def policies_need_state(policies: PolicyEngine) -> bool:
    """Whether a rule may read a finding of a stateful detector (all on the tool arguments)."""
    return any(r.detectors and r.target == "tool_arguments" for r in policies.rules)


def view_of(p: PreparedCall) -> CallView:
    """The detectors' view of a prepared call, reusing the PII scans the privacy pass already made."""
    raw, row = p.raw, p.row
    view = CallView.from_record({**raw, "app": row["app"], "tenant": row.get("tenant"),
                                 "user_pseudonym": row.get("user_pseudonym")})
    scans = getattr(view, "_scans", None)
    if isinstance(scans, dict) and isinstance(raw.get("output"), str):
        scans["output"] = [sp for loc, _, fld, sp in p.redactor.spans if loc == "output" and fld == ""]
        messages = raw.get("input") or []
        if all(isinstance(m.get("content"), str | None) for m in messages):
            starts: dict[int, int] = {}
            pos = 0
            for i, m in enumerate(messages):
                if m.get("role") in ("tool", "system", "developer"):
                    continue
                starts[i] = pos
                pos += len(m.get("content") or "") + 1
            scans["input"] = [(e, s + starts[item], x + starts[item]) for loc, item, _, (e, s, x) in p.redactor.spans
                              if loc == "input" and item in starts]
    # The texts the privacy pass scanned and redacted without a second look (the answer, a message, a
    # tool argument): the detectors' evidence and tool scans reuse those spans.
    view._scanned.update(p.redactor.scanned)
    return view


class StatelessPass:
    """The stateless detectors (in detector order), the measurements and, when they need no
    state, the policies."""

    def __init__(self, detectors: list[Detector], policies: PolicyEngine) -> None:
        self.detectors = [d for d in detectors if d.name not in STATEFUL]
        self.policies = policies if policies and not policies_need_state(policies) else None

    @classmethod
    def build(cls, config: Config, canaries: Callable[[], dict[str, str]]) -> StatelessPass:
        """The pass as the serving process's Detection builds it, for another process."""
        detectors = build_detectors(config.detectors, canaries=canaries, baseline=ArgumentBaseline())
        return cls(detectors, policy_engine(config, detectors))

    def run(self, batch: list[PreparedCall]) -> dict[int, CallView]:
        """Leave a Screen on each call; the views it built, by id() of the call (for reuse here)."""
        views: dict[int, CallView] = {}
        for p in batch:
            try:
                view = views[id(p)] = view_of(p)
            except Exception as exc:  # Detection.process builds the view too, and counts the failure
                p.extras[SCREEN] = Screen(failed=f"{type(exc).__name__} at {where(exc)}")
                continue
            p.extras[SCREEN] = self.screen(p, view)
        return views

    def screen(self, p: PreparedCall, view: CallView) -> Screen:
        out = Screen()
        try:
            for d in self.detectors:
                if found := run_all((d,), view):  # only what was found: the screen travels between processes
                    out.found[d.name] = found
            if view.profile is None and view.output_text:
                view.profile = quality_profile(view.output_text, last_user_text(view))
            p.extras["profile"] = view.profile
            if view.topic is not None:
                p.extras["topic"] = view.topic
            labels = p.extras["labels"] = labels_of(p)
            for feature, column in FEATURE_COLUMNS.items():
                p.row[column] = labels.get(feature)
        except Exception as exc:  # one odd record must not cost the others their detection
            return Screen(failed=f"{type(exc).__name__} at {where(exc)}")
        if self.policies is not None:
            try:
                found = [f for d in self.detectors for f in out.found.get(d.name, ())]
                out.policy = [v.finding() for v in self.policies.check(view, found)]
            except Exception as exc:  # a rule must never cost the call its place in the log
                out.policy, out.policy_failed = [], f"{type(exc).__name__} at {where(exc)}"
        return out
