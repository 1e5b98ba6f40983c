"""Run trials against any OpenAI-compatible chat endpoint: N samples each, bounded concurrency,
every answer judged, and the failure rate with its Wilson interval per trial.

Used by `fireline eval run` (a suite against a target) and by replay (an incident's logged inputs
against the upstream). Errors (HTTP failures, timeouts) are counted apart: they are neither a
pass nor a failure, and a trial with no judged sample is an error, never a pass.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from fireline.evals.expect import Answer
from fireline.evals.stats import wilson

MAX_CONCURRENCY = 64
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class Target:
    """Where samples go: an OpenAI base URL (…/v1), its key, extra headers, overrides."""

    base_url: str
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    temperature: float | None = None
    seed: int | None = None
    timeout: float = 120.0
    retries: int = 2

    def public(self) -> str:
        """The URL without credentials, for reports."""
        url = httpx.URL(self.base_url)
        return str(url.copy_with(username=None, password=None, query=None))


@dataclass(slots=True)
class Trial:
    """One request body to sample `n` times and the judge of each answer."""

    key: str
    case_id: str
    body: dict[str, Any]
    n: int
    threshold: float
    judge: Callable[[Answer], list[str]]
    arm: str = ""
    family: str | None = None
    label: str = ""
    confidence: float = 0.95
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class TrialResult:
    key: str
    case_id: str
    arm: str
    family: str | None
    label: str
    threshold: float
    confidence: float
    samples: int = 0  # judged samples
    failures: int = 0
    errors: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.failures / self.samples if self.samples else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.failures, self.samples, self.confidence)

    @property
    def status(self) -> str:
        """passed: the upper bound is at or under the threshold; failed: over it; error: nothing judged."""
        if not self.samples:
            return "error"
        return "passed" if self.interval[1] <= self.threshold else "failed"

    def as_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {"key": self.key, "case_id": self.case_id, "arm": self.arm, "family": self.family,
                "label": self.label, "samples": self.samples, "failures": self.failures, "errors": self.errors,
                "rate": None if self.rate is None else round(self.rate, 6), "ci_low": round(lo, 6),
                "ci_high": round(hi, 6), "confidence": self.confidence, "threshold": self.threshold,
                "status": self.status, "violations": dict(self.violations.most_common(10)),
                "error_kinds": dict(self.error_kinds.most_common(5)), "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "seconds": round(self.seconds, 3)}


Progress = Callable[[int, int], None]


class Runner:
    def __init__(self, target: Target, *, concurrency: int = 8, progress: Progress | None = None,
                 stop: threading.Event | None = None) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        self.target, self.concurrency = target, concurrency
        self.progress = progress or (lambda _d, _t: None)
        self.stop = stop or threading.Event()

    def run(self, trials: Sequence[Trial]) -> list[TrialResult]:
        """Blocking: runs on a loop of its own (call from a thread or the CLI)."""
        return asyncio.run(self.arun(trials))

    async def arun(self, trials: Sequence[Trial]) -> list[TrialResult]:
        results = [TrialResult(t.key, t.case_id, t.arm, t.family, t.label, t.threshold, t.confidence)
                   for t in trials]
        jobs: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        for i, t in enumerate(trials):
            for s in range(t.n):
                jobs.put_nowait((i, s))
        total = jobs.qsize()
        done = 0
        headers = {"Content-Type": "application/json", **self.target.headers}
        if self.target.api_key:
            headers["Authorization"] = f"Bearer {self.target.api_key}"
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = httpx.Timeout(self.target.timeout, connect=10.0)
        url = self.target.base_url.rstrip("/") + "/chat/completions"
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout) as http:

            async def worker() -> None:
                nonlocal done
                while not self.stop.is_set():
                    try:
                        i, s = jobs.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    t0 = time.perf_counter()
                    answer, error = await self._sample(http, url, trials[i], s)
                    r = results[i]
                    r.seconds += time.perf_counter() - t0
                    if error is not None:
                        r.errors += 1
                        r.error_kinds[error] += 1
                    else:
                        assert answer is not None
                        r.samples += 1
                        r.input_tokens += answer.input_tokens
                        r.output_tokens += answer.output_tokens
                        try:
                            violations = trials[i].judge(answer)
                        except Exception as exc:  # a judge bug is an error of that sample, not a pass
                            r.samples -= 1
                            r.errors += 1
                            r.error_kinds[f"judge failed: {type(exc).__name__}"] += 1
                            violations = []
                        if violations:
                            r.failures += 1
                            r.violations.update(set(violations))
                    done += 1
                    self.progress(done, total)

            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, max(total, 1)))))
        return results

    def body_for(self, trial: Trial, sample: int) -> dict[str, Any]:
        body = dict(trial.body)
        if self.target.model:
            body["model"] = self.target.model
        if self.target.temperature is not None:
            body["temperature"] = self.target.temperature
        if self.target.seed is not None:
            body["seed"] = self.target.seed + sample
        body.pop("stream", None)
        return body

    async def _sample(self, http: httpx.AsyncClient, url: str, trial: Trial,
                      sample: int) -> tuple[Answer | None, str | None]:
        body = self.body_for(trial, sample)
        for attempt in range(self.target.retries + 1):
            try:
                resp = await http.post(url, json=body, headers=trial.headers or None)
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.HTTPError as exc:
                error = f"unreachable: {type(exc).__name__}"
            else:
                if resp.status_code == 200 and resp.headers.get("x-fireline-contained"):
                    # A kill switch's fallback or a guardrail's block is not the model's answer:
                    # judging it would pass a case the model still fails.
                    return None, "answered by Fireline containment (X-Fireline-Contained), not the model"
                if resp.status_code == 200:
                    try:
                        return Answer.from_completion(resp.json()), None
                    except ValueError as exc:  # not JSON, or not a chat completion
                        return None, f"bad answer: {str(exc)[:80]}"
                error = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUSES:
                    return None, error
                wait = _retry_after(resp.headers.get("retry-after"))
                if attempt < self.target.retries:
                    await asyncio.sleep(wait if wait is not None else 0.2 * 2 ** attempt)
                    continue
                return None, error
            if attempt < self.target.retries:
                await asyncio.sleep(0.2 * 2 ** attempt)
        return None, error


def _retry_after(value: str | None) -> float | None:
    try:
        return min(10.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None
