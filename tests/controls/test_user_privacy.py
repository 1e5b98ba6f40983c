"""User-scoped controls keep no raw user id (controls table, timeline, SSE and OFREP state), still
match that user in the gateway, OFREP and the Guard SDK, and erasure reaches them."""

from __future__ import annotations

import json
import time

import httpx
from sqlalchemy import select, text

from fireline.calls import privacy
from fireline.controls.models import ControlRow
from fireline.db import Database, utcnow
from fireline.guard import Guard
from fireline.incidents.models import TimelineEntry
from tests.support.fireline import Fireline, running

USER = "mallory.smith@example.com"


def first_state(fl: Fireline) -> str:
    headers = {"Authorization": f"Bearer {fl.keys['ingest']}"}
    with httpx.stream("GET", f"{fl.url}/api/v1/controls/stream", headers=headers, timeout=10) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                return line[len("data: "):]
    raise AssertionError("no state event")


def enabled_for(fl: Fireline, user: str) -> bool:
    with fl.client("ingest") as c:
        r = c.post("/ofrep/v1/evaluate/flags/fireline.bot.enabled", json={"context": {"targetingKey": user}})
        assert r.status_code == 200, r.text
        return bool(r.json()["value"])


def stored_text(fl: Fireline) -> str:
    with fl.db.session() as s:
        rows = [json.dumps(r.scope) + str(r.reason) for r in s.scalars(select(ControlRow))]
        rows += [json.dumps(e.data) for e in s.scalars(select(TimelineEntry))]
        rows += [str(r) for r in s.execute(text("SELECT * FROM controls"))]
    return "\n".join(rows)


def test_user_scope_is_pseudonymised_everywhere_yet_still_matches_and_erasure_reaches_it(fl: Fireline) -> None:
    with fl.client("responder") as c:
        inc = c.post("/api/v1/incidents", json={"title": "abuse by one user", "type": "prompt_injection",
                                                "apps": ["bot"]}).json()
        made = c.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "bot", "user": USER},
                                                "incident_id": inc["id"], "reason": f"stop {USER}"})
        assert made.status_code in (200, 201), made.text
        control = made.json()
    assert control["scope"]["user"] == privacy.pseudonym(USER) and control["scope"]["user_match"].startswith("m_")
    state = first_state(fl)
    assert USER not in state and "mallory" not in state and privacy.pseudonym(USER) in state
    assert USER not in stored_text(fl) and "mallory" not in stored_text(fl)
    # it still acts on that user, and only on them: OFREP, and the Guard SDK (no secret, the salt)
    assert enabled_for(fl, USER) is False and enabled_for(fl, "alice@example.com") is True
    with Guard(fl.url, fl.keys["ingest"], "bot") as guard:
        assert guard.wait_ready(5)
        assert guard.enabled(user=USER) is False and guard.enabled(user="alice@example.com") is True
    # a control made from a pseudonym (as the blast radius shows users) matches on the server too
    with fl.client("responder") as c:
        other = "trudy@example.com"
        r = c.post("/api/v1/controls", json={"kind": "read_only", "scope": {"app": "bot",
                                                                          "user": privacy.pseudonym(other)}})
        assert r.status_code in (200, 201), r.text
        flag = c.post("/ofrep/v1/evaluate/flags/fireline.bot.read_only", json={"context": {"targetingKey": other}})
        assert flag.json()["value"] is True
        # erasure: the control keeps nothing of the person and stops matching them
        assert c.delete(f"/api/v1/subjects/{USER}").status_code == 200
    with fl.db.session() as s:
        scopes = [r.scope for r in s.scalars(select(ControlRow))]
    assert privacy.pseudonym(USER) not in json.dumps(scopes)
    deadline = time.monotonic() + 5  # every process picks the new revision up (polled)
    while not enabled_for(fl, USER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert enabled_for(fl, USER) is True


def test_metadata_identities_are_pseudonymised_and_erasure_finds_the_call(fl: Fireline) -> None:
    call = {"id": "meta-identity-1", "app": "bot", "input": [{"role": "user", "content": "hello"}], "output": "hi",
            "metadata": {"enduser.id": "carol-77", "customer_email": "carol@example.org", "plan": "pro",
                         "traceloop": {"association_properties": {"user_id": "carol-77"}}}}
    with fl.client("ingest") as c:
        assert c.post("/api/v1/calls", json={"calls": [call]}).status_code == 201
    with fl.client("viewer") as c:
        got = c.get("/api/v1/calls/meta-identity-1").json()
    assert got["user_pseudonym"] == privacy.pseudonym("carol-77")
    meta = got["metadata"]
    assert meta["enduser.id"] == privacy.pseudonym("carol-77") and meta["plan"] == "pro"
    assert meta["customer_email"] == privacy.pseudonym("carol@example.org")
    assert meta["traceloop"]["association_properties"]["user_id"] == privacy.pseudonym("carol-77")
    with fl.db.session() as s:
        content = s.execute(text("SELECT content FROM calls WHERE id = 'meta-identity-1'")).scalar_one()
    assert "carol" not in str(content)
    with fl.client("responder") as c:
        assert c.delete("/api/v1/subjects/carol-77").json()["deleted_calls"] == 1


def test_a_control_stored_with_a_raw_user_is_pseudonymised_at_start(db: Database) -> None:
    from fireline.controls import service
    from tests.controls.conftest import make_config

    with db.writing() as s:
        revision = service.bump_revision(s)
        s.add(ControlRow(id="ctl_legacy", kind="kill_switch", scope={"app": "bot", "user": USER}, params={},
                         incident_id=None, actor="old", reason=None, created_at=utcnow(), expires_at=None,
                         revision=revision))
    with running(db, make_config()) as fl:
        with db.session() as s:
            scope = s.get(ControlRow, "ctl_legacy").scope  # type: ignore[union-attr]
        assert scope["user"] == privacy.pseudonym(USER) and scope["user_match"].startswith("m_")
        assert USER not in stored_text(fl)
        assert enabled_for(fl, USER) is False and enabled_for(fl, "alice@example.com") is True
