"""An incident's scope stays bounded however long its monitor fires: per dimension a sample of the
first 100 values and the exact distinct count (incidents.scope), new values told apart from known
ones past the sample by incident_scope_values; merges add up exactly; the blast radius (which
reads the calls) and the API still see everything."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fireline.config import Config
from fireline.db import Database, utcnow
from fireline.incidents import fired, links, service
from fireline.incidents.models import Incident, IncidentScopeValue
from fireline.incidents.scope import SAMPLE, merge_scope
from fireline.signals import Alert
from tests.incidents.helpers import alert, finding, store_calls
from tests.support.fireline import running

KEY = "monitor:pii_secret_leak:app=support-bot"
USERS = 2500
PER_ALERT = 100


def spec(i: int) -> dict[str, Any]:
    return {"id": f"c-{i}", "minutes": i // 50, "user": f"u{i}@x.io", "session_id": f"s{i}",
            "tenant": f"t{i % 3}", "findings": [finding()]}


def firing(i: int, calls: list[str], update: bool = True, **over: Any) -> Alert:
    """The alert a long-firing monitor sends with calls i..: their sessions, users and API key ids."""
    details = {"group": "app=support-bot", "condition": "any", **({"update": True} if update else {})}
    return alert(key=KEY, call_ids=tuple(calls), at=utcnow(), details=details,
                 sessions=tuple(f"s{j}" for j in range(i, i + len(calls))),
                 users=tuple(f"p{j}" for j in range(i, i + len(calls))),
                 keys=tuple(f"k{j % 7}" for j in range(i, i + len(calls))),
                 tenants=tuple(sorted({f"t{j % 3}" for j in range(i, i + len(calls))})), **over)


def scope_of(db: Database, iid: str) -> dict[str, Any]:
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None
        return dict(inc.scope)


def test_a_long_firing_monitor_keeps_a_bounded_scope_with_exact_counts(db: Database) -> None:
    ids = store_calls(db, [spec(i) for i in range(USERS)])
    config = Config.model_validate({"incidents": {"repeat_window_days": 3650}})
    with running(db, config) as fl:
        iid = service.on_alert_fired(db, firing(0, ids[:PER_ALERT], update=False))
        assert iid
        for n, i in enumerate(range(PER_ALERT, USERS, PER_ALERT)):  # 24 more alerts, new calls each
            a = firing(i, ids[i:i + PER_ALERT])
            if n % 2:
                fired.on_alerts_fired([{"db": db, "alert": a}])  # the batch path
            else:
                service.on_alert_fired(db, a)  # one by one
        stored = scope_of(db, iid)
        for dim in ("sessions", "users"):
            assert stored[dim] == [f"{dim[0] if dim == 'sessions' else 'p'}{j}" for j in range(SAMPLE)]
            assert stored["counts"][dim] == USERS
        assert stored["counts"]["keys"] == len(stored["keys"]) == 7
        assert stored["counts"]["tenants"] == len(stored["tenants"]) == 3
        # A re-fire naming known values (some only in the spilled set, some in the sample) and new ones.
        again = firing(2400, ids[2400:2500], update=False)
        again = replace(again, sessions=(*again.sessions, "s5", "s-new"), call_ids=())
        service.on_alert_fired(db, again)
        stored = scope_of(db, iid)
        assert stored["counts"]["sessions"] == USERS + 1 and len(stored["sessions"]) == SAMPLE
        with db.session() as s:
            rows = s.scalar(select(func.count()).select_from(IncidentScopeValue)
                            .where(IncidentScopeValue.incident_id == iid, IncidentScopeValue.dim == "sessions"))
        assert rows == USERS + 1  # the spilled set: every distinct session once
        with fl.client("viewer") as http:
            inc = http.get(f"/api/v1/incidents/{iid}").json()
            blast = http.get(f"/api/v1/incidents/{iid}/blast-radius").json()
        assert inc["scope"]["counts"]["sessions"] == USERS + 1 and len(inc["scope"]["sessions"]) == SAMPLE
        assert inc["scope"]["truncated"] == ["sessions", "users"]
        assert inc["apps"] == ["support-bot"] and len(inc["linked_calls"]) == USERS
        # The blast radius counts the calls themselves, not the scope's sample.
        assert blast["status"] == "measured" and blast["calls"] == USERS
        assert blast["users"] == USERS and blast["sessions"] == USERS and blast["tenants"] == 3
        assert len(str(inc["scope"])) < 10_000


def test_an_incident_whose_first_alert_spills_is_stored_with_its_values(db: Database) -> None:
    """The first alert already names more sessions than the sample holds: they spill while the
    incident itself is still being created, in the same transaction."""
    ids = store_calls(db, [spec(i) for i in range(3 * PER_ALERT)])
    with running(db, Config()):
        iid = service.on_alert_fired(db, firing(0, ids, update=False))
        assert iid
        stored = scope_of(db, iid)
        assert stored["counts"]["sessions"] == stored["counts"]["users"] == 3 * PER_ALERT
        assert stored["sessions"] == [f"s{j}" for j in range(SAMPLE)]
        with db.session() as s:
            rows = s.scalar(select(func.count()).select_from(IncidentScopeValue)
                            .where(IncidentScopeValue.incident_id == iid))
        assert rows == 2 * 3 * PER_ALERT  # sessions and users; keys and tenants fit the sample


def test_a_merge_adds_the_spilled_values_exactly(db: Database) -> None:
    with db.writing() as s:
        a = Incident(id="INC-A", scope={})
        b = Incident(id="INC-B", scope={})
        merge_scope(s, a, {"sessions": [f"s{i}" for i in range(0, 300)], "apps": ["bot"]})
        merge_scope(s, b, {"sessions": [f"s{i}" for i in range(200, 450)], "apps": ["bot", "docs"]})
        assert a.scope["counts"]["sessions"] == 300 and b.scope["counts"]["sessions"] == 250
        added = merge_scope(s, a, b.scope, source=b)
        assert a.scope["counts"]["sessions"] == 450 and len(a.scope["sessions"]) == SAMPLE
        assert added["sessions"] == [f"s{i}" for i in range(300, 450)] and added["apps"] == ["docs"]
        assert a.scope["counts"]["apps"] == 2 and a.apps == "bot docs"
        assert merge_scope(s, a, {"sessions": ["s7", "s299", "s449"]}) == {}  # nothing new: the row is left alone
        s.rollback()


def test_an_old_incident_with_a_long_list_is_bounded_on_its_next_alert(db: Database) -> None:
    with db.writing() as s:
        inc = Incident(id="INC-OLD", scope={"sessions": [f"s{i}" for i in range(250)], "apps": ["bot"]})
        assert merge_scope(s, inc, {"sessions": ["s3"]}) == {}
        assert merge_scope(s, inc, {"sessions": ["s3", "s-new"]}) == {"sessions": ["s-new"]}
        assert len(inc.scope["sessions"]) == SAMPLE and inc.scope["counts"]["sessions"] == 251
        s.rollback()


def test_merging_incidents_through_the_service_keeps_counts(db: Database) -> None:
    first = service.on_alert_fired(db, alert(key=KEY, sessions=tuple(f"s{j}" for j in range(150))))
    second = service.on_alert_fired(db, alert(key="monitor:pii_secret_leak:app=billing-bot", apps=("billing-bot",),
                                              sessions=tuple(f"s{j}" for j in range(50, 400))))
    assert first and second and first != second
    links.merge(db, second, first, "alice", "one leak")
    got = scope_of(db, first)
    assert got["counts"]["sessions"] == 400 and len(got["sessions"]) == SAMPLE
    assert got["counts"]["apps"] == 2 and set(got["apps"]) == {"support-bot", "billing-bot"}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.integers(0, 400), max_size=150), min_size=1, max_size=12), st.integers(0, 10**9))
def test_the_sample_is_the_first_values_and_the_count_is_exact(sqlite_db: Database, alerts: list[list[int]],
                                                               n: int) -> None:
    """Whatever the alerts bring (repeats within and across them, past the sample or not), the list is
    the first SAMPLE distinct values in order, the count is the number of distinct values, and the
    stored set (once spilled) is exactly that set."""
    seen: list[str] = []
    with sqlite_db.writing() as s:
        inc = Incident(id=f"INC-P{n}", scope={})
        for values in alerts:
            names = [f"s{v}" for v in values]
            added = merge_scope(s, inc, {"sessions": names})
            fresh = [v for v in dict.fromkeys(names) if v not in seen]
            assert added.get("sessions", []) == fresh
            seen += fresh
            assert inc.scope.get("sessions", []) == seen[:SAMPLE]
            assert inc.scope.get("counts", {}).get("sessions", 0) == len(seen)
        stored = set(s.scalars(select(IncidentScopeValue.value).where(IncidentScopeValue.incident_id == inc.id)))
        assert stored == (set(seen) if len(seen) > SAMPLE else set())
        s.rollback()
