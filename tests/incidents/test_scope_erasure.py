"""Erasing a person takes their pseudonym out of incident scopes (the sample and the spilled set, the
count with it), except for incidents that still hold their calls: those keep it until the queued
erasure runs when the hold ends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fireline.calls.privacy import pseudonym
from fireline.config import Config
from fireline.db import Database
from fireline.incidents import service
from fireline.incidents.models import Incident, IncidentScopeValue
from fireline.incidents.scope import SAMPLE
from tests.incidents.helpers import alert, finding, store_calls
from tests.support.fireline import running


def scope_of(db: Database, iid: str) -> dict[str, Any]:
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None
        return dict(inc.scope)


def spilled(db: Database, iid: str) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(IncidentScopeValue.value).where(
            IncidentScopeValue.incident_id == iid, IncidentScopeValue.dim == "users")))


def test_erasure_takes_the_pseudonym_out_of_incident_scopes(db: Database) -> None:
    ann, bob, cy = (pseudonym(u) for u in ("ann@x.io", "bob@x.io", "cy@x.io"))
    (cy_call,) = store_calls(db, [{"id": "c-cy", "user": "cy@x.io", "findings": [finding()]}])
    config = Config.model_validate({"incidents": {"repeat_window_days": 3650}})
    with running(db, config) as fl:
        small = service.on_alert_fired(db, alert(key="k:small", apps=("app-small",), users=(ann, bob)))
        others = tuple(f"u_other{i}" for i in range(SAMPLE + 40))
        # bob in the sample, ann only in the spilled set past the first SAMPLE values
        big = service.on_alert_fired(db, alert(key="k:big", apps=("app-big",), users=(bob, *others[:SAMPLE - 1])))
        service.on_alert_fired(db, alert(key="k:big", apps=("app-big",), users=(*others[SAMPLE - 1:], ann)))  # re-fire
        held = service.on_alert_fired(db, alert(key="k:held", users=(cy,), call_ids=(cy_call,)))
        assert len({small, big, held}) == 3  # three apps' incidents (the held one is support-bot's)
        assert scope_of(db, big)["counts"]["users"] == SAMPLE + 42 and ann in spilled(db, big)

        with fl.client("responder") as http:
            assert http.delete("/api/v1/subjects/ann@x.io").status_code == 200
            assert scope_of(db, small)["users"] == [bob] and scope_of(db, small)["counts"]["users"] == 1
            big_scope = scope_of(db, big)
            assert ann not in big_scope["users"] and ann not in spilled(db, big)
            assert big_scope["counts"]["users"] == SAMPLE + 41 and big_scope["users"][0] == bob

            assert http.delete("/api/v1/subjects/bob@x.io").status_code == 200
            assert scope_of(db, small)["users"] == [] and scope_of(db, small)["counts"]["users"] == 0
            big_scope = scope_of(db, big)
            assert bob not in big_scope["users"] and bob not in spilled(db, big)
            # the sample refilled from the stored set: still SAMPLE values, the exact count one less
            assert len(big_scope["users"]) == SAMPLE and big_scope["counts"]["users"] == SAMPLE + 40
            shown = http.get(f"/api/v1/incidents/{big}").json()["scope"]
            assert bob not in shown["users"] and shown["counts"]["users"] == SAMPLE + 40

            # cy's call is held by the incident (evidence): the scope keeps cy until the hold ends
            assert http.post(f"/api/v1/incidents/{held}/ack", json={}).status_code == 200
            answer = http.delete("/api/v1/subjects/cy@x.io").json()
            assert answer["queued"] is True, answer
            assert scope_of(db, held)["users"] == [cy]
            assert http.post(f"/api/v1/incidents/{held}/evals/waive",
                             json={"reason": "a test incident"}).status_code == 200
            for action in ("resolve", "close"):  # acknowledged, nothing to contain
                got = http.post(f"/api/v1/incidents/{held}/{action}", json={"reason": action})
                assert got.status_code == 200, got.text
            assert scope_of(db, held)["users"] == []
        for iid in (small, big, held):
            assert all(u not in str(scope_of(db, iid)) for u in (ann, bob, cy))
