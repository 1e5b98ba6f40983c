"""Property: any sequence of moves keeps the incident in a legal state and the timeline verifying."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fireline.db import Database
from fireline.errors import Conflict
from fireline.incidents import edits, service
from fireline.incidents.lifecycle import ACTIONS, ACTIVE, STATES, TRANSITIONS, transition
from fireline.incidents.models import IncidentDedup
from fireline.incidents.timeline import verify
from tests.incidents.helpers import alert

MOVES = st.lists(st.sampled_from([*ACTIONS, "note", "alert", "severity"]), max_size=8)


def test_table_is_closed_and_every_state_reachable() -> None:
    targets = {t for moves in TRANSITIONS.values() for t in moves.values()}
    assert targets <= set(STATES) and set(TRANSITIONS) == set(STATES)
    assert targets | {"detected"} == set(STATES)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES)
def test_random_moves_never_reach_an_illegal_state(db: Database, moves: list[str]) -> None:
    dedup = f"prop-{uuid.uuid4()}"  # every example gets its own incident (its own key and app)
    apps = (dedup,)
    iid = service.on_alert_fired(db, alert(key=dedup, type="bias", severity="P3", apps=apps))
    expected = "detected"
    passed: set[str] = set()
    acked = False
    for move in moves:
        if move == "note":
            edits.add_note(db, iid, "n", "alice")
        elif move == "alert":
            got = service.on_alert_fired(db, alert(key=dedup, type="bias", severity="P3", apps=apps))
            assert (got == iid) == (expected in ACTIVE)
        elif move == "severity":
            try:
                edits.set_severity(db, iid, "P2", "alice", "re-triaged")
            except Conflict:
                assert expected in ("closed", "false_positive")
        else:
            # The model: the table, where `ack` happens once (also from contained), and a person who
            # resolves an incident nobody acknowledged acknowledges it on the way.
            allowed = [m for m in TRANSITIONS[expected] if m != "ack" or not acked]
            try:
                transition(db, iid, move, "alice")
                assert move in allowed
                expected = TRANSITIONS[expected][move]
                passed.add(expected)
                acked = acked or move in ("ack", "resolve")
            except Conflict as exc:
                assert move not in allowed
                assert exc.details["allowed"] == allowed
        with db.session() as s:
            inc = service.get_incident(s, iid)
            assert inc.state == expected
            assert expected in STATES
            assert (inc.acknowledged_at is not None) == acked
            assert (inc.commander == "alice") == acked
            assert (inc.contained_at is not None) == ("contained" in passed)
            assert (inc.resolved_at is not None) == ("resolved" in passed)
            assert (inc.closed_at is not None) == (expected in ("closed", "false_positive"))
            held = s.scalar(select(IncidentDedup.incident_id).where(IncidentDedup.dedup_key == dedup))
            assert (held == iid) == (expected in ACTIVE)
    with db.session() as s:
        assert verify(s, iid).ok
