"""A call's GenAI events split over several OTLP log exports, racing each other and the span: every
event's content lands on the call (the CI failure of stop 22: a call stored with its answer and no
question, because two fills of one call met and the second one was dropped)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from fireline.calls import amend, privacy
from fireline.db import Database, utcnow
from fireline.ingest import logs, otlp
from fireline.ingest.models import PendingEvents
from tests.ingest.helpers import CONFIG
from tests.support.fireline import Fireline, running

TRACE, SPAN = "ab" * 16, "cd" * 8
CALL_ID = f"otlp-{TRACE}-{SPAN}"
QUESTION, ANSWER = "Where is my order?", "It ships tomorrow."
USER_EVENT: logs.spans.Event = ("gen_ai.user.message", {"body": {"content": QUESTION}})
CHOICE_EVENT: logs.spans.Event = ("gen_ai.choice", {"body": {
    "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}})


def _post(fl: Fireline, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(f"{fl.url}{path}", content=orjson.dumps(body), timeout=30,
                   headers={"Content-Type": "application/json", "X-Fireline-Key": fl.keys["ingest"]})
    assert r.status_code == 200 and "partialSuccess" not in r.json(), r.text


def _span() -> dict[str, Any]:
    """A chat span without content (its content comes as events)."""
    now = time.time_ns()
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "support-bot"}}]}, "scopeSpans": [{"spans": [{
            "traceId": TRACE, "spanId": SPAN, "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now),
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]}]}]}]}


def _events(*events: logs.spans.Event) -> dict[str, Any]:
    def record(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
        return {"eventName": name, "traceId": TRACE, "spanId": SPAN, "body": _any(attrs["body"])}
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": [record(n, a) for n, a in events]}]}]}


def _any(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _any(v)} for k, v in value.items()]}}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def _stored(fl: Fireline) -> dict[str, Any]:
    with fl.client("responder") as http:
        r = http.get(f"/api/v1/calls/{CALL_ID}", params={"raw": "true", "reason": "race test"})
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_two_fills_of_one_call_that_meet_both_land(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The span is stored; the question's export fills the call while another process fills the
    answer between that fill's read and its write: the question is read again and still lands."""
    real_prepare = amend.prepare
    raced = threading.Event()

    def prepare_while_another_process_fills(*args: Any, **kwargs: Any) -> Any:
        if not raced.is_set():
            raced.set()
            found = {k: v for k, v in logs._found([CHOICE_EVENT], "support-bot")[0].items() if k == "output"}
            other = threading.Thread(target=amend._fill_once, args=(db, CALL_ID, found, None))
            other.start()  # its own thread, as another process would: this process's lock is not its
            other.join(30)
        return real_prepare(*args, **kwargs)

    with running(db, CONFIG) as fl:
        _post(fl, "/v1/traces", _span())
        monkeypatch.setattr(amend, "prepare", prepare_while_another_process_fills)
        _post(fl, "/v1/logs", _events(USER_EVENT))
        assert raced.is_set()
        call = _stored(fl)
        assert call["input"] == [{"role": "user", "content": QUESTION}]
        assert call["output"] == ANSWER
        assert call["metadata"].get("content_joined_late") is True


def test_events_split_over_concurrent_exports_all_land(db: Database) -> None:
    """The question and the answer in two exports sent at the same moment, after the span."""
    with running(db, CONFIG) as fl:
        _post(fl, "/v1/traces", _span())
        sent = [threading.Thread(target=_post, args=(fl, "/v1/logs", _events(e))) for e in (USER_EVENT, CHOICE_EVENT)]
        for t in sent:
            t.start()
        for t in sent:
            t.join(30)
        call = _stored(fl)
        assert call["input"] == [{"role": "user", "content": QUESTION}] and call["output"] == ANSWER


def test_events_arriving_while_their_span_is_stored_join_a_call_already_half_filled(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer waits for the span and is merged when it comes; the question's export arrives
    after the span's export claimed the waiting events but before it committed (so that export
    found no call and left its event waiting): the span's export claims it after its commit."""
    real_map = otlp.map_request

    def map_then_an_export_lands(req: Any, config: Any, waiting: Any) -> Any:
        mapped = real_map(req, config, waiting)
        if waiting:  # the span's export, having claimed the answer: the question's export lands now
            with db.writing() as session:
                session.add(PendingEvents(call_id=CALL_ID, received_at=utcnow(),
                                          blob=privacy.encrypt({"events": [USER_EVENT]})))
        return mapped

    with running(db, CONFIG) as fl:
        _post(fl, "/v1/logs", _events(CHOICE_EVENT))
        assert logs.any_waiting(db)
        monkeypatch.setattr(otlp, "map_request", map_then_an_export_lands)
        _post(fl, "/v1/traces", _span())
        call = _stored(fl)
        assert call["output"] == ANSWER
        assert call["input"] == [{"role": "user", "content": QUESTION}]
        assert not logs.any_waiting(db)


def test_events_waiting_for_a_span_land_when_it_comes_among_other_exports(db: Database) -> None:
    """Exports sent together share a group (one check for waiting events for the group): the span
    whose events came first still gets them, whichever place it has in its group."""
    others = []
    for i in range(5):
        doc = _span()
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = f"{i + 1:032x}"
        others.append(doc)
    with running(db, CONFIG) as fl:
        _post(fl, "/v1/logs", _events(USER_EVENT, CHOICE_EVENT))
        assert logs.any_waiting(db)
        start = threading.Barrier(6)

        def send(body: dict[str, Any]) -> None:
            start.wait()
            _post(fl, "/v1/traces", body)

        sent = [threading.Thread(target=send, args=(b,)) for b in [*others[:3], _span(), *others[3:]]]
        for t in sent:
            t.start()
        for t in sent:
            t.join(30)
        call = _stored(fl)
        assert call["input"] == [{"role": "user", "content": QUESTION}] and call["output"] == ANSWER
        assert not logs.any_waiting(db)
