"""A suite run: trials from the cases, the runner, and the report (JSON shape shared by the CLI,
the API and the console)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fireline.config import Config
from fireline.detect.detectors import Detector
from fireline.detect.service import judging_detectors
from fireline.evals.expect import Answer, Context, Judging
from fireline.evals.runner import Progress, Runner, Target, Trial, TrialResult
from fireline.evals.stats import min_samples
from fireline.evals.suite import Case, Suite


@dataclass(slots=True)
class Options:
    app: str
    n: int | None = None
    max_failure_rate: float | None = None
    model: str | None = None
    prompt_version: str | None = None
    concurrency: int = 8


def judging_for(config: Config, canaries: dict[str, str] | None = None,
                detectors: Sequence[Detector] | None = None) -> Judging:
    """The configured detectors (FIRELINE_CONFIG's `detectors:`), or the server's own set."""
    if detectors is None:
        tokens = dict(canaries or {})
        detectors = judging_detectors(config, lambda: tokens)
    return Judging(detectors)


def _judge(judging: Judging, case: Case, ctx: Context) -> Any:
    def judge(answer: Answer) -> list[str]:
        return judging.check(case.expect, answer, ctx)
    return judge


def trials_for(suite: Suite, opts: Options, judging: Judging, config: Config) -> list[Trial]:
    out: list[Trial] = []
    for case in suite.cases:
        app = opts.app or case.app or suite.app or "default"
        model = opts.model or case.model or suite.defaults.model
        if not model:
            raise ValueError(f"{suite.id}/{case.id}: no model to ask for: pass --model or set defaults.model")
        body: dict[str, Any] = {"model": model, "messages": case.messages()}
        if case.tools:
            body["tools"] = case.tools
        if suite.defaults.temperature is not None:
            body["temperature"] = suite.defaults.temperature
        threshold = suite.threshold(case, opts.max_failure_rate)
        headers = {"X-Fireline-App": app, "X-Fireline-Environment": "eval"}
        version = opts.prompt_version or case.prompt_version or suite.defaults.prompt_version
        if version:
            headers["X-Fireline-Prompt-Version"] = version
        if case.tenant:
            headers["X-Fireline-Tenant"] = case.tenant
        ctx = Context(app=app, tenant=case.tenant, input=[m.model_dump(exclude_none=True) for m in case.input],
                      system_prompt=case.system_prompt,
                      retrieval=[r.model_dump(exclude_none=True) for r in case.retrieval],
                      tool_kinds=dict(config.app(app).tools))
        out.append(Trial(key=f"{suite.id}/{case.id}", case_id=case.id, body=body,
                         n=suite.samples(case, threshold, opts.n), threshold=threshold,
                         judge=_judge(judging, case, ctx), family=case.family, label=case.description or "",
                         confidence=suite.defaults.confidence, headers=headers))
    return out


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summarise(results: list[TrialResult]) -> dict[str, Any]:
    counts = {"passed": 0, "failed": 0, "error": 0}
    for r in results:
        counts[r.status] += 1
    status = "error" if counts["error"] else ("failed" if counts["failed"] else "passed")
    return {"status": status, "passed": status == "passed", "counts": counts,
            "samples": sum(r.samples for r in results), "failures": sum(r.failures for r in results),
            "errors": sum(r.errors for r in results),
            "input_tokens": sum(r.input_tokens for r in results),
            "output_tokens": sum(r.output_tokens for r in results)}


def run_suite(suite: Suite, target: Target, opts: Options, judging: Judging, config: Config, *,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run every case of one suite; the report as JSON."""
    trials = trials_for(suite, opts, judging, config)
    started = time.time()
    results = Runner(target, concurrency=opts.concurrency, progress=progress).run(trials)
    finished = time.time()
    return report(suite, target, opts, results, started, finished)


def report(suite: Suite, target: Target, opts: Options, results: list[TrialResult], started: float,
           finished: float) -> dict[str, Any]:
    threshold = opts.max_failure_rate or suite.defaults.max_failure_rate
    return {"suite_id": suite.id, "title": suite.title, "incident": suite.incident, "target": target.public(),
            "app": opts.app, "model": opts.model, "prompt_version": opts.prompt_version,
            "max_failure_rate": threshold, "confidence": suite.defaults.confidence,
            "min_samples_to_pass": min_samples(threshold, suite.defaults.confidence),
            "started_at": stamp(started), "finished_at": stamp(finished), "seconds": round(finished - started, 3),
            **summarise(results), "cases": [r.as_json() for r in results]}
