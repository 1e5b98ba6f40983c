"""Group commit: many one-call requests at once are stored in few transactions, and each request
gets exactly the answer it would have got alone (its ids, accepted, duplicates, dead letters), a
call id sent twice counting once as when the requests come one after the other."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.calls import search, service
from fireline.calls.api import parse_calls
from fireline.calls.group import GroupCommit
from fireline.calls.shares import split
from fireline.db import Database


def call(cid: str | None) -> dict[str, Any]:
    c: dict[str, Any] = {"app": "bot", "input": [{"role": "user", "content": f"where is order {cid}?"}],
                         "output": "it ships tomorrow"}
    if cid is not None:
        c["id"] = cid
    return c


def parsed(request: list[tuple[str | None, bool]], n: int) -> list[Any]:
    calls = parse_calls({"calls": [call(cid) for cid, _ in request]})
    for j, (c, (_, bad)) in enumerate(zip(calls, request, strict=True)):
        if bad:  # what validation missed (a plug-in's bypass): the database refuses the row
            c.tenant, c.id = "acme\x00", f"bad-{n}-{j}"  # (a refused row's id is its own: no duplicate)
    return calls


def test_concurrent_one_call_requests_share_transactions(db: Database) -> None:
    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch))
    n = 40
    start = threading.Barrier(n)
    answers: dict[int, Any] = {}

    def send(i: int) -> None:
        start.wait()
        answers[i] = group.ingest(parse_calls(call(f"g-{i}")))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(answers[i].ids == [f"g-{i}"] and len(answers[i].inserted) == 1 for i in range(n))
    assert group.groups < n  # some requests shared a commit
    with db.session() as s:
        assert search.count(s, search.CallFilter()) == n


def test_a_failing_store_fails_every_request_of_its_group() -> None:
    def store(_: Any) -> Any:
        raise RuntimeError("database away")

    group = GroupCommit(store)
    with pytest.raises(RuntimeError, match="database away"):
        group.ingest(parse_calls(call("x")))
    with pytest.raises(RuntimeError):  # the next request is stored (tried) too: nothing stays stuck
        group.ingest(parse_calls(call("y")))


requests = st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", None]), st.booleans()),
                             min_size=1, max_size=4), min_size=1, max_size=5)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests)
def test_each_request_gets_what_it_would_alone(reqs: list[list[tuple[str | None, bool]]], tmp_path: Path,
                                               sqlite_template: Path) -> None:
    def fresh() -> Database:
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        shutil.copy(sqlite_template, path)
        return Database(f"sqlite:///{path}")

    alone_db, grouped_db = fresh(), fresh()
    alone = [service.ingest(alone_db, parsed(r, n)) for n, r in enumerate(reqs)]
    batches = [parsed(r, n) for n, r in enumerate(reqs)]
    for calls in batches:
        for c in calls:
            c.id = c.id or f"auto-{uuid.uuid4().hex}"
    grouped = split(service.ingest(grouped_db, [c for b in batches for c in b]),
                    [[str(c.id) for c in b] for b in batches])

    def shape(o: Any) -> tuple[Any, ...]:
        return ([i if not i.startswith("auto-") and len(i) != 26 else "*" for i in o.ids], len(o.inserted),
                o.duplicates, sorted((d.call_id if d.call_id and len(d.call_id) != 26 and not
                                      d.call_id.startswith("auto-") else "*", d.stage) for d in o.dead))
    assert [shape(o) for o in grouped] == [shape(o) for o in alone]
    assert not any(bad for r in reqs for _, bad in r) or any(o.dead for o in grouped)
    alone_db.dispose()
    grouped_db.dispose()


def test_a_body_that_does_not_parse_fails_its_own_request_only(db: Database) -> None:
    from fireline.calls.api import parse_body
    from fireline.errors import Invalid

    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch), parse_body)
    start = threading.Barrier(6)
    answers: dict[int, Any] = {}

    def send(i: int) -> None:
        body = b'{"app": "bot", "input": ' if i == 3 else orjson.dumps(call(f"p-{i}"))
        start.wait()
        try:
            answers[i] = group.ingest(body)
        except Invalid as exc:
            answers[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert isinstance(answers[3], Invalid) and "not valid JSON" in answers[3].message
    assert all(answers[i].ids == [f"p-{i}"] for i in range(6) if i != 3)


def test_a_request_that_went_away_does_not_stop_the_group() -> None:
    """A waiting request whose client left (its future cancelled) is stored and skipped when
    answered; the requests after it are answered as usual."""
    first_stored = threading.Event()
    release = threading.Event()
    stored: list[list[str]] = []

    def store(batch: service.PreparedBatch) -> Any:
        stored.append(batch.ids)
        first_stored.set()
        release.wait(10)
        return service.IngestOutcome(ids=batch.ids, inserted=[], duplicates=len(batch.ids))

    group = GroupCommit(store)
    first = group.submit(parse_calls(call("a")))
    assert first_stored.wait(10)
    gone = group.submit(parse_calls(call("b")))  # b and d wait for the next group, together
    after = group.submit(parse_calls(call("d")))
    assert gone.cancel()
    release.set()
    assert first.result(10).ids == ["a"]
    assert after.result(10).ids == ["d"]
    assert group.ingest(parse_calls(call("c"))).ids == ["c"]
    assert stored == [["a"], ["b", "d"], ["c"]]


def test_under_load_requests_are_answered_at_the_commit_and_a_lone_one_after_the_monitors(db: Database) -> None:
    """`after` ("calls.ingested" to the monitors) runs once the group is committed: requests that
    share a group (or have others waiting behind them) are answered before it, so their answer does
    not wait for the monitors of every call in the group; a lone request is answered after it, so
    its client sees the effects (incidents, monitor state) on its next request; after concurrent
    traffic a request is lone once `after_every` passed with no company. Both are committed.
    A group with requests waiting behind it has its `after` run with the next group's, once for both."""
    stored = threading.Event()
    release = threading.Event()
    seen: list[tuple[list[str], bool]] = []  # (ids the monitors got, were their requests already answered)
    futures: dict[str, Any] = {}

    def store(batch: service.PreparedBatch) -> Any:
        stored.set()
        release.wait(10)
        return service.ingest_prepared(db, batch, publish=False)

    registered = threading.Event()  # the lone request's future is in `futures`

    def after(outcome: service.IngestOutcome) -> None:
        ids = sorted(p.id for p in outcome.inserted)
        if any(i not in futures for i in ids):
            assert registered.wait(10)
        seen.append((ids, all(futures[i].done() for i in ids)))

    group = GroupCommit(store, after=after)
    futures["first"] = group.submit(parse_calls(call("first")))
    assert stored.wait(10)
    for i in ("w-0", "w-1", "w-2"):  # one group, after the first
        futures[i] = group.submit(parse_calls(call(i)))
    release.set()
    assert [f.result(10).ids for f in futures.values()] == [["first"], ["w-0"], ["w-1"], ["w-2"]]
    time.sleep(group.after_every * 2)  # a quiet spell: the traffic is no longer concurrent
    futures["lone"] = group.submit(parse_calls(call("lone")))
    registered.set()
    assert futures["lone"].result(10).ids == ["lone"]
    # the first had others waiting behind it: answered at its commit, as the three sharing a group,
    # and the monitors got both groups at once after the second commit
    assert seen == [(["first", "w-0", "w-1", "w-2"], True), (["lone"], False)]
    with db.session() as s:
        assert search.count(s, search.CallFilter()) == 5


def test_every_committed_call_reaches_the_monitors_once_whatever_the_grouping(db: Database) -> None:
    """Many concurrent one-call requests: each stored call is in exactly one `after`, and none is
    left owed once the requests are answered and the group's thread is idle."""
    seen: list[str] = []
    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch, publish=False),
                        after=lambda outcome: seen.extend(p.id for p in outcome.inserted))
    n = 60
    start = threading.Barrier(n)

    def send(i: int) -> None:
        start.wait()
        group.ingest(parse_calls(call(f"m-{i}")))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    time.sleep(group.after_every * 2)
    group.ingest(parse_calls(call("last")))  # a lone request: answered after every owed `after` ran
    assert sorted(seen) == sorted([f"m-{i}" for i in range(n)] + ["last"])


def test_a_failure_after_the_commit_does_not_fail_committed_requests(db: Database) -> None:
    def after(_: Any) -> None:
        raise RuntimeError("a monitor broke")

    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch, publish=False), after=after)
    assert len(group.ingest(parse_calls(call("kept"))).inserted) == 1
    with db.session() as s:
        assert service.get(s, "kept").id == "kept"


def test_under_concurrent_traffic_a_lone_request_is_answered_first_and_its_monitors_follow(db: Database) -> None:
    """Right after requests shared a group, a lone one is answered at its commit; what follows it
    runs within `after_every` though no request comes (the thread never ends owing it)."""
    seen: list[tuple[list[str], float]] = []
    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch, publish=False), after_every=0.2,
                        after=lambda outcome: seen.append((sorted(p.id for p in outcome.inserted), time.monotonic())))
    first = group.submit(parse_calls(call("c-0")))
    rest = [group.submit(parse_calls(call(f"c-{i}"))) for i in range(1, 4)]
    assert [f.result(10).ids for f in [first, *rest]] == [[f"c-{i}"] for i in range(4)]
    lone = group.submit(parse_calls(call("c-lone")))
    assert lone.result(10).ids == ["c-lone"]
    answered = time.monotonic()
    deadline = answered + 5
    while sum(len(ids) for ids, _ in seen) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(i for ids, _ in seen for i in ids) == sorted([f"c-{i}" for i in range(4)] + ["c-lone"])


def test_event_loop_requests_get_their_own_answers_in_one_hand_over(db: Database) -> None:
    """`answer` on an event loop: many requests at once, each its own share (a bad body its own
    error), a request that went away skipped; the loop is woken once per group, not per request."""
    import asyncio

    from fireline.calls.api import parse_body

    group = GroupCommit(lambda batch: service.ingest_prepared(db, batch), parse_body)
    handed: list[int] = []

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(fn: Any, *args: Any, **kw: Any) -> Any:
            if fn.__name__ == "_answer_all":
                handed.append(len(args[0]))
            return original(fn, *args, **kw)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        bodies = [orjson.dumps(call(f"e-{i}")) for i in range(30)]
        bodies[4] = b'{"app": '
        tasks = [asyncio.ensure_future(group.answer(b)) for b in bodies]
        await asyncio.sleep(0)  # each one queued and waiting
        tasks[9].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = asyncio.run(main())
    assert "not valid JSON" in str(answers[4]) and isinstance(answers[9], asyncio.CancelledError)
    assert all(answers[i].ids == [f"e-{i}"] for i in range(30) if i not in (4, 9))
    assert sum(handed) == 30 and len(handed) < 30  # answers handed over per group
    with db.session() as s:
        assert search.count(s, search.CallFilter()) == 29  # the one that went away is stored too


def test_one_thread_serves_steady_traffic_and_ends_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    from fireline.calls import group as group_module

    monkeypatch.setattr(group_module, "IDLE_EXIT", 0.3)
    threads: list[threading.Thread] = []

    def store(batch: service.PreparedBatch) -> Any:
        threads.append(threading.current_thread())
        return service.IngestOutcome(ids=batch.ids, inserted=[], duplicates=len(batch.ids))

    group = GroupCommit(store)
    for i in range(3):
        assert group.ingest(parse_calls(call(f"t-{i}"))).ids == [f"t-{i}"]
    assert len(set(threads)) == 1  # no thread started per request
    threads[0].join(5)
    assert not threads[0].is_alive()  # ended once idle
    assert group.ingest(parse_calls(call("t-3"))).ids == ["t-3"]  # and the next request starts one again
    assert threads[-1] is not threads[0]
