"""The monitors page in headless Chromium against the running demo: the chart shows where the alert was
firing (through a flap and its recovery period), apart from where the condition held, and a group in
its recovery period says when it resolves."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tests.support.demo import Demo
from tests.web.console import Console, pytestmark  # noqa: F401 (pytestmark: skipped without Chromium)


def test_a_monitor_in_its_recovery_period_shows_the_alert_firing_and_when_it_resolves(admin: Console,
                                                                                    demo: Demo) -> None:
    """Errors on a new app fire error_rate; ordinary calls then clear its condition: the group stays firing
    for recover_after, and the chart and the card say so (the alert's stretch, amber while recovering,
    apart from where the condition held; "clear since ..., resolves at ... if it stays clear")."""
    group = "app=flaky-bot"

    def calls(status: str, n: int, tag: str) -> list[dict[str, Any]]:
        return [{"id": f"flaky-{tag}-{i}", "app": "flaky-bot", "tenant": "acme", "status": status,
                 "input": [{"role": "user", "content": "Where is my parcel?"}], "output": "On its way."}
                for i in range(n)]

    def group_now() -> dict[str, Any] | None:
        with demo.client("viewer") as http:
            mons = http.get("/api/v1/monitors").json()["monitors"]
        (mon,) = [m for m in mons if m["name"] == "error_rate"]
        return next((g for g in mon["groups"] if g["group"] == group), None)

    def until(ok: Any) -> dict[str, Any]:
        for _ in range(200):
            g = group_now()
            if g is not None and ok(g):
                return g
            admin.page.wait_for_timeout(100)
        raise AssertionError(f"error_rate on {group}: {group_now()}")

    with demo.client("ingest") as http:
        http.post("/api/v1/calls", json={"calls": calls("error", 30, "e")}).raise_for_status()
        until(lambda g: g["state"] == "firing")
        http.post("/api/v1/calls", json={"calls": calls("ok", 300, "ok")}).raise_for_status()
    g = until(lambda g: g["state"] == "firing" and g["clear_since"])
    with demo.client("viewer") as http:
        s = http.get("/api/v1/monitors/error_rate/series", params={"hours": 1, "group": group}).json()
    assert s["state"] == "firing" and s["recovery"]["clear_since"].startswith(g["clear_since"][:16])
    (a,) = s["alerting"]
    assert not a["resolved"] and a["clear_from"] and a["to"] == s["points"][-1]["t"]
    assert s["points"][-1]["alert"] and s["points"][-1]["clear"] and not s["points"][-1]["firing"]

    p = admin.page
    admin.open(f"#/monitors/error_rate?hours=1&group={group}", ".monitor .uplot canvas")
    note = p.inner_text(".monitor [data-role=recovery]")
    assert "clear since" in note and "resolves at" in note and "if it stays clear" in note, note
    assert "alert firing" in p.inner_text(".monitor .chart-key") and "condition held" in p.inner_text(".monitor")
    assert p.inner_text("#view").count("resolves at") >= 2  # the groups table says it too
    p.screenshot(path="/tmp/fireline-monitor-recovery.png", full_page=True)


def test_a_flapping_monitor_charts_one_firing_over_two_stretches_of_its_condition(admin: Console,
                                                                                 demo: Demo) -> None:
    """55 minutes of past calls on a new app whose error rate flaps (over 20%, under it for 7 minutes, over
    again, then calm): the chart shows the condition held twice and the alert firing once, through the
    gap and for recover_after (15 minutes) after the condition last cleared."""
    now_minute = int(time.time() // 60)
    plan = [5] * 10 + [0] * 10 + [5] * 5 + [0] * 30  # errors per minute, of 10 calls a minute
    rows = [{"id": f"flappy-{m}-{i}", "app": "flappy-bot", "tenant": "acme", "status": "error" if i < errors else "ok",
             "input": [{"role": "user", "content": "Where is my parcel?"}], "output": "On its way.",
             "started_at": datetime.fromtimestamp((now_minute - len(plan) + m) * 60 + 5, UTC).isoformat()}
            for m, errors in enumerate(plan) for i in range(10)]
    with demo.client("ingest") as http:
        http.post("/api/v1/calls", json={"calls": rows}).raise_for_status()
    with demo.client("viewer") as http:
        for _ in range(100):
            s = http.get("/api/v1/monitors/error_rate/series", params={"hours": 1, "group": "app=flappy-bot"})
            if s.status_code == 200 and len(s.json()["firing"]) == 2:
                break
            time.sleep(0.1)
    s = s.json()
    held, (a,) = s["firing"], s["alerting"]
    assert len(held) == 2 and s["step_minutes"] == 1, held
    assert a["from"] == held[0]["from"] and a["resolved"] and a["clear_from"] == held[1]["to"]
    minute = {p["t"]: i for i, p in enumerate(s["points"])}
    # resolved at the evaluation recover_after (15 minutes) after the first clear one
    assert minute[a["to"]] - (minute[a["clear_from"]] + 1) == 15
    gap = s["points"][minute[held[0]["to"]] + 1:minute[held[1]["from"]] + 1]
    assert gap and all(p["alert"] and p["clear"] and not p["firing"] for p in gap)  # the flap: still firing

    p = admin.page
    admin.open("#/monitors/error_rate?hours=1&group=app=flappy-bot", ".monitor .uplot canvas")
    assert "1 firing period(s) (condition held 2×)" in p.inner_text(".monitor")
    assert p.query_selector(".monitor [data-role=recovery]") is None  # resolved: no recovery period now
    assert "ok" in p.inner_text(".monitor .card-head") and "recovering" not in p.inner_text(".monitor .card-head")
    p.screenshot(path="/tmp/fireline-monitor-flap.png", full_page=False)
