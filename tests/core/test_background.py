"""Background loops survive: a failing step is logged once (type and place, no content),
counted, backed off, and the loop carries on; it recovers when the step succeeds again."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.exc import OperationalError

from fireline import background
from fireline.metrics import BACKGROUND_FAILURES


def test_a_failing_step_is_retried_with_backoff_and_the_loop_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    before = BACKGROUND_FAILURES.labels("test-loop")._value.get()

    async def step() -> None:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) <= 3:
            raise OperationalError("SELECT secret_content", {}, Exception("connection refused"))

    async def run() -> None:
        task = asyncio.create_task(background.every("test-loop", step, 0.02, cap=0.1, first_delay=0))
        while len(calls) < 6:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.WARNING, logger="fireline.background"):
        asyncio.run(run())
    assert BACKGROUND_FAILURES.labels("test-loop")._value.get() == before + 3
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    # backed off: 0.02, 0.04, 0.08 s after the three failures (sleep never returns early, so lower
    # bounds hold however loaded the machine is), then back to the interval
    assert gaps[1] >= 0.04 * 0.95 and gaps[2] >= 0.08 * 0.95
    lines = [r.getMessage() for r in caplog.records]
    assert sum("failed" in line for line in lines) == 1  # one line for the run of failures, not one per try
    assert any("recovered after 3 failures" in line for line in lines)
    assert not any("secret_content" in line for line in lines)
