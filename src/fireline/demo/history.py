"""Past traffic for the demo: hours of the support app's ordinary calls, sent to the real ingest API.

Monitors compare the current window with the days before it; a demo that starts from an empty log
has no baseline to draw. `backfill` logs what the app would have logged over the last `hours` (a daily
rhythm of volume, the usual share of refusals, answers from the scriptable upstream's own scripts),
dated in the past, so the monitors' baselines and the console's charts come from data that went
through ingest, the detectors and the monitors like any other.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fireline.demo.traffic import Population
from fireline.simulator.script import answer

BATCH = 500


def calls(app: str, model: str, system_prompt: str, hours: float, per_hour: int = 90, *, seed: int = 11,
          now: datetime | None = None) -> list[dict[str, Any]]:
    """The calls of the last `hours`, oldest first (deterministic for a seed)."""
    rng = random.Random(seed)
    population = Population(seed=seed)
    now = now or datetime.now(UTC)
    out: list[dict[str, Any]] = []
    start = now - timedelta(hours=hours)
    for h in range(math.ceil(hours)):
        hour_start = start + timedelta(hours=h)
        # busier in the (UTC) afternoon, quiet at night
        volume = int(per_hour * (0.55 + 0.45 * math.sin((hour_start.hour - 8) / 24 * 2 * math.pi)))
        for _ in range(volume):
            at = hour_start + timedelta(seconds=rng.uniform(0, 3600))
            if at >= now - timedelta(minutes=2):
                continue
            user, question = population.next()
            body = {"messages": [{"role": "system", "content": system_prompt},
                                 {"role": "user", "content": question}]}
            ans = answer("refuse" if rng.random() < 0.02 else "normal", {}, body)
            usage = ans["usage"]
            out.append({"app": app, "tenant": user.tenant, "user": user.id, "session_id": user.session,
                        "model": model, "model_resolved": model, "prompt_version": "v12",
                        "system_prompt": system_prompt, "input": [{"role": "user", "content": question}],
                        "output": ans["content"], "input_tokens": usage["prompt_tokens"],
                        "output_tokens": usage["completion_tokens"],
                        "latency_ms": round(rng.lognormvariate(math.log(650), 0.35), 1),
                        "cost_usd": round(usage["total_tokens"] * 2.5e-6, 6), "started_at": at.isoformat()})
    out.sort(key=lambda c: c["started_at"])
    return out


def backfill(api: httpx.Client, key: str, rows: list[dict[str, Any]],
             progress: Callable[[int, int], None] | None = None) -> int:
    """Send the calls through POST /api/v1/calls in batches with an ingest key; returns how many."""
    sent = 0
    for i in range(0, len(rows), BATCH):
        batch = rows[i:i + BATCH]
        resp = api.post("/api/v1/calls", json={"calls": batch}, headers={"Authorization": f"Bearer {key}"},
                        timeout=120)
        resp.raise_for_status()
        sent += len(batch)
        if progress:
            progress(sent, len(rows))
    return sent
