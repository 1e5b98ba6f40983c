"""A ratio monitor sitting at its threshold, through the real app on a fake monitor clock: what a
user sees (fire/resolve transitions, alert history rows, timeline entries, incidents, pages).

The monitor is the shipped `error_rate` with a fixed baseline (no trailing history: the filler
bench's case, where the hour-long history is empty), so its threshold is an error rate of 15%.
Each fake minute 20 calls arrive; the scenario is
- `flap`: errors ~ Binomial(20, 0.15) a minute for `flap_minutes` (the window's rate hovers at 15%),
- `calm`: no error for 45 minutes (a genuine recovery),
- `spike`: 40% errors for 12 minutes (a genuine repeat after that recovery),
- `calm` again.
`follow=True` plays a responder who resolves the incident whenever the alert resolves (what a
PagerDuty service fed by a monitor's recoveries does on its own).

Used by tests/detect/test_flapping_app.py and bench/flap.py (which prints the counts).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from fireline.config import Config
from fireline.db import Database
from fireline.detect.firing import Fired
from fireline.detect.models import MonitorAlert
from tests.comms.support import comms_config, http_receiver
from tests.support.fireline import Fireline, running

KEY = "monitor:error_rate:app=support-bot"
ERROR_RATE = {"name": "error_rate", "baseline": {"days": 0, "default": 0.05, "floor": 0.01}, "min_value": 0}
PER_MINUTE = 20


@dataclass
class Outcome:
    fired: int = 0  # new firings (ok -> firing)
    refired: int = 0  # re-fires while firing (the repeat interval)
    resolved: int = 0
    history_rows: int = 0  # detect_alerts rows (GET /api/v1/alerts shows them)
    incidents: int = 0
    timeline: Counter[str] = field(default_factory=Counter)
    pages: int = 0  # PagerDuty "trigger" events
    notifications: int = 0  # every message sent (webhook, Slack, PagerDuty)
    repeats: int = 0  # incidents linked as repeats of an earlier one
    after_flap: dict[str, int] = field(default_factory=dict)  # incidents, pages, resolves when the flap ends

    def as_dict(self) -> dict[str, Any]:
        keep = ("alert", "alert_resolved", "calls_linked", "opened", "repeat")
        return {"fired": self.fired, "refired": self.refired, "resolved": self.resolved,
                "history_rows": self.history_rows, "incidents": self.incidents, "repeats": self.repeats,
                "pages": self.pages, "notifications": self.notifications,
                "timeline": {k: self.timeline[k] for k in keep}, "after_flap": self.after_flap}


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def config(hook: str, extra_monitor: dict[str, Any] | None = None) -> Config:
    cfg = comms_config(None)
    channels = {"hook": {"type": "webhook", "url": f"{hook}/hook"},
                "pager": {"type": "pagerduty", "routing_key": "R0UT1NG", "url": f"{hook}/pd"}}
    notifications = {**cfg.section("notifications"), "channels": channels}
    return Config.model_validate({**cfg.model_dump(), "notifications": notifications,
                                  "monitors": [{**ERROR_RATE, **(extra_monitor or {})}]})


def plan(flap_minutes: int, seed: int = 7) -> list[int]:
    """Errors per minute (of PER_MINUTE calls)."""
    rng = random.Random(seed)
    flap = [sum(rng.random() < 0.15 for _ in range(PER_MINUTE)) for _ in range(flap_minutes)]
    return [*flap, *[0] * 45, *[8] * 12, *[0] * 45]


def send_minute(fl: Fireline, clock: FakeClock, minute: int, errors: int) -> None:
    at = datetime.fromtimestamp(clock.t, UTC).isoformat()
    calls = [{"app": "support-bot", "tenant": "acme", "session_id": f"s-{minute}-{i}", "user": f"u{i % 7}",
              "input": [{"role": "user", "content": "Where is my parcel?"}], "output": "On its way.",
              "status": "error" if i < errors else "ok", "started_at": at} for i in range(PER_MINUTE)]
    with fl.client("ingest") as http:
        r = http.post("/api/v1/calls", json={"calls": calls})
        assert r.status_code == 201, r.text


def incidents(c: Any) -> list[dict[str, Any]]:
    return [i for i in c.get("/api/v1/incidents").json()["incidents"] if i["dedup_key"] == KEY]


def run(db: Database, flap_minutes: int = 90, follow: bool = False,
        extra_monitor: dict[str, Any] | None = None) -> Outcome:
    out = Outcome()
    with http_receiver() as hook, running(db, config(hook.url, extra_monitor)) as fl, \
            fl.client("responder") as c:
        engine = fl.app.state.detect.engine
        clock = FakeClock(float(int(time.time() // 60) * 60))
        engine.clock = clock
        emit = engine.emit
        seen: list[Fired] = []

        def recording(fired: list[Fired]) -> None:
            seen.extend(f for f in fired if f.alert.dedup_key == KEY)
            emit(fired)

        engine.emit = recording

        def pages() -> int:
            return sum(1 for r in hook.on("/pd") if r.json().get("event_action") == "trigger")

        def settle(n_incidents: int) -> None:
            deadline = time.monotonic() + 10  # every incident's "opened" reaches both channels
            while time.monotonic() < deadline and (len(hook.on("/hook")) < n_incidents or pages() < n_incidents):
                time.sleep(0.05)
            time.sleep(0.5)  # and anything beyond that, had there been more

        for minute, errors in enumerate(plan(flap_minutes)):
            if minute == flap_minutes:
                opened = len(incidents(c))
                settle(opened)
                out.after_flap = {"incidents": opened, "pages": pages(),
                                  "resolved": sum(1 for f in seen if f.resolved)}
            clock.t += 60
            before = len(seen)
            send_minute(fl, clock, minute, errors)
            engine.tick()
            if follow and any(f.resolved for f in seen[before:]):
                for inc in incidents(c):
                    if inc["state"] in ("detected", "acknowledged", "contained"):
                        for move in ("ack", "resolve"):
                            c.post(f"/api/v1/incidents/{inc['id']}/{move}")
        out.fired = sum(1 for f in seen if not f.resolved and not f.update and f.before[0] != "firing")
        out.refired = sum(1 for f in seen if not f.resolved and not f.update and f.before[0] == "firing")
        out.resolved = sum(1 for f in seen if f.resolved)
        with db.session() as s:
            out.history_rows = int(s.scalar(select(func.count()).select_from(MonitorAlert)
                                            .where(MonitorAlert.dedup_key == KEY)) or 0)
        found = incidents(c)
        out.incidents = len(found)
        for inc in found:
            entries = c.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["entries"]
            out.timeline.update(e["kind"] for e in entries)
            out.repeats += any(e["kind"] == "repeat" and "of" in (e.get("data") or {}) for e in entries)
        settle(out.incidents)
        out.pages = pages()
        out.notifications = len(hook.requests)
    return out
