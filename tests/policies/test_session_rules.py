"""Per-session limits: what counts, what crosses, what asks for containment, and config errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fireline.config import ConfigError
from fireline.counters import LocalCounter
from fireline.detect.detectors.base import CallView
from fireline.detect.rule_alerts import RuleAlerts
from fireline.detect.service import session_meta
from fireline.detect.sessions import SessionSignals, load_sessions
from fireline.signals import Alert


def row(session: str | None, **kw: Any) -> dict[str, Any]:
    return {"id": kw.pop("id", "c"), "app": kw.pop("app", "agent"), "session_id": session,
            "started_at": datetime.now(UTC), **kw}


def view(*tools: tuple[str, Any]) -> CallView:
    return CallView.from_record({"app": "agent", "input": "go",
                                 "tool_calls": [{"name": n, "arguments": a} for n, a in tools]})


@pytest.mark.parametrize(("section", "field"), [
    ({"max_steps": 0}, "sessions.max_steps"), ({"window": "soon"}, "sessions.window"),
    ({"type": "loops"}, "sessions.type"), ({"contain": ["forever"]}, "sessions.contain"),
    ({"apps": {"a": {"max_tokens": -1}}}, "sessions.apps.a.max_tokens"), ({"max_stepz": 3}, "sessions.max_stepz"),
])
def test_a_bad_sessions_section_names_its_field(section: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_sessions(section)
    assert str(exc.value).startswith(field), str(exc.value)


def test_identical_tool_calls_count_by_canonical_arguments_per_session() -> None:
    s = SessionSignals({"max_identical_tool_calls": 2, "max_steps": None})
    a, b = ("fetch", {"url": "x9z", "n": 1}), ("fetch", '{"n": 1, "url": "x9z"}')  # same call, other key order
    assert s.observe(row("s1"), view(a)) == [] and s.observe(row("s1"), view(b)) == []
    [f] = s.observe(row("s1"), view(a))
    assert (f.detector, f.kind, f.location, f.item) == ("session", "tool_loop", "tool", 0)
    assert "fetch called 3 times" in f.evidence and "x9z" not in f.evidence  # never the arguments
    assert s.observe(row("s2"), view(a)) == []  # another session has its own count
    assert s.observe(row(None), view(a)) == []  # no session: nothing to count
    assert s.observe(row("s1"), view(("fetch", {"url": "other"}))) == []


def test_steps_tokens_and_spend_with_per_app_limits_and_backfills_skipped() -> None:
    s = SessionSignals({"max_steps": 3, "max_tokens": 100, "max_cost_usd": 0.5, "apps": {"big": {"max_steps": 10}}},
                       counter=LocalCounter())
    kinds = [sorted(f.kind for f in s.observe(row("s", input_tokens=30, output_tokens=10, cost_usd=0.2), view()))
             for _ in range(4)]
    assert kinds == [[], [], ["spend", "tokens"], ["spend", "steps", "tokens"]]
    assert all(s.observe(row("s", app="big"), view()) == [] for _ in range(5))
    old = row("s", started_at=datetime.now(UTC) - timedelta(days=2))
    assert s.observe(old, view()) == []  # a backfill of an old session is not counted now


def test_only_the_configured_kinds_ask_for_containment() -> None:
    fired: list[Alert] = []
    s = SessionSignals({"max_steps": 1, "max_identical_tool_calls": 1})
    alerts = RuleAlerts(lambda det, f: session_meta(s) if det == "session" else None, fired.extend, repeat_s=0)

    class Prepared:
        def __init__(self, r: dict[str, Any], v: CallView) -> None:
            self.row, self.raw = r, {"tool_calls": v.tool_calls}
            self.findings = [{"detector": f.detector, "kind": f.kind, "item": f.item, "location": f.location}
                             for f in s.observe(r, v)]

    alerts.observe([Prepared(row("long", id="a"), view()), Prepared(row("long", id="b"), view())])
    assert [(a.dedup_key, a.details["contain"], a.details["scope_by"]) for a in fired] == [
        ("session:app=agent,session_id=long", False, "session")]
    fired.clear()
    loop = view(("poll", {"job": 1}))
    alerts.observe([Prepared(row("loop", id="c"), loop), Prepared(row("loop", id="d"), loop)])
    assert [(a.sessions, a.details["contain"], sorted(a.details["kinds"])) for a in fired] == [
        (("loop",), True, ["steps", "tool_loop"])]
