"""One call per request (how most SDKs and exporters send), many at once, through the real server
on SQLite and PostgreSQL, with the groups prepared in the helper process or in the group's thread:
each answered call is stored exactly once with its findings, a bad body is its own 422 naming the
field, and a group whose write fails answers 503 to every request in it with nothing stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from fireline.calls import service
from fireline.calls.api import group_commit
from fireline.calls.models import Call, CallFinding, CallRaw
from fireline.config import Config
from fireline.db import Database
from tests.support.fireline import Fireline, running


def a_call(cid: str) -> dict[str, Any]:
    return {"id": cid, "app": "support-bot", "user": f"{cid}@example.com",
            "input": [{"role": "user", "content": f"My e-mail is {cid}@example.com, where is my order?"}],
            "output": "It ships tomorrow."}


@pytest.fixture(params=["helper", "in-process"])
def fl(db: Database, request: pytest.FixtureRequest) -> Iterator[Fireline]:
    """A server whose groups are prepared in the helper process (`ingest.prepare_process`), or in
    the group's thread (the default)."""
    helped = request.param == "helper"
    with running(db, Config.model_validate({"ingest": {"prepare_process": helped}})) as server:
        helper = server.app.state.ingest_helper
        assert (helper is not None) == helped
        if helper is None:
            yield server
            return
        deadline = time.monotonic() + 120
        while helper.call(len, []) is None:  # started and answering (a spawn takes a second or more)
            assert time.monotonic() < deadline, "the helper process did not start"
            time.sleep(0.05)
        yield server


def at_once(fl: Fireline, bodies: list[bytes]) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def send(i: int) -> None:
        with fl.client("ingest") as http:
            start.wait()
            answers[i] = http.post("/api/v1/calls", content=bodies[i], headers={"Content-Type": "application/json"})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def rows(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_concurrent_one_call_requests_are_each_stored_once_with_findings(fl: Fireline) -> None:
    n = 30
    first = at_once(fl, [orjson.dumps(a_call(f"a-{i}")) for i in range(n)])
    assert [r.status_code for r in first] == [201] * n
    assert [r.json() for r in first] == [{"accepted": 1, "duplicates": 0, "ids": [f"a-{i}"]} for i in range(n)]
    group = group_commit(fl.app)
    assert group.groups < n  # some requests shared a commit (so the next groups go to the helper, if any)
    offloaded = group.offloaded
    bodies = [orjson.dumps(a_call(f"b-{i}")) for i in range(n)]
    bodies[3] = b'{"app": "support-bot", "input": '  # not JSON
    bodies[7] = orjson.dumps({**a_call("b-7"), "input_tokens": "many"})
    bodies[11] = orjson.dumps(a_call("a-11"))  # sent again: a duplicate, not a second row
    second = at_once(fl, bodies)
    assert (group.offloaded > offloaded) == (fl.app.state.ingest_helper is not None)
    assert second[3].status_code == 422 and "not valid JSON" in second[3].json()["detail"]
    assert second[7].status_code == 422 and second[7].json()["field"] == "input_tokens"
    assert second[11].status_code == 201 and second[11].json() == {"accepted": 0, "duplicates": 1, "ids": ["a-11"]}
    ok = [i for i in range(n) if i not in (3, 7, 11)]
    assert all(second[i].status_code == 201 and second[i].json()["ids"] == [f"b-{i}"] for i in ok)
    assert rows(fl.db, Call) == rows(fl.db, CallRaw) == n + len(ok)
    with fl.client("viewer") as http:
        for cid in ("a-0", f"b-{ok[-1]}"):
            call = http.get(f"/api/v1/calls/{cid}").json()
            assert any(f["detector"] == "pii" and f["location"] == "input" for f in call["findings"])
            assert "@example.com" not in orjson.dumps(call["input"]).decode()  # the privacy pass ran


class _OutboxAway:
    """The write's last statement fails as a lost connection would (after the calls were inserted
    in the same transaction)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def add(self, *_: Any, **__: Any) -> int:
        raise OperationalError("INSERT INTO outbox", {}, ConnectionError("server closed the connection"))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self.real, name)  # type: ignore[no-any-return]


def test_a_failing_write_answers_503_to_its_group_and_stores_nothing(fl: Fireline,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    n = 20
    bodies = [orjson.dumps(a_call(f"w-{i}")) for i in range(n)]
    monkeypatch.setattr(service, "outbox", _OutboxAway(service.outbox))
    failed = at_once(fl, bodies)
    assert [r.status_code for r in failed] == [503] * n
    assert all(r.headers.get("retry-after") for r in failed)
    assert rows(fl.db, Call) == rows(fl.db, CallRaw) == rows(fl.db, CallFinding) == 0  # nothing half-written
    monkeypatch.undo()
    again = at_once(fl, bodies)  # the senders retry: each call stored exactly once
    assert [r.json() for r in again] == [{"accepted": 1, "duplicates": 0, "ids": [f"w-{i}"]} for i in range(n)]
    assert rows(fl.db, Call) == rows(fl.db, CallRaw) == n
