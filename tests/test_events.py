"""The event bus delivers in publication order, also when a handler publishes."""

from __future__ import annotations

from typing import Any

from fireline.events import EventBus


def test_what_a_handler_publishes_waits_until_every_handler_saw_the_current_event() -> None:
    events = EventBus()
    seen: list[str] = []

    def opens(**_: Any) -> None:
        seen.append("auto-contain saw opened")
        events.publish("t.changed", what="contained")
        seen.append("auto-contain done")

    def notifies_opened(**_: Any) -> None:
        seen.append("comms: opened")

    def notifies_changed(what: str, **_: Any) -> None:
        seen.append(f"comms: {what}")

    def in_transaction(session: Any, **_: Any) -> None:
        seen.append(f"erased in {session}")

    subs = [("t.opened", opens), ("t.opened", notifies_opened), ("t.changed", notifies_changed),
            ("t.erased", in_transaction)]
    for topic, fn in subs:
        events.subscribe(topic, fn)

    def erasing(**_: Any) -> None:
        events.publish("t.erased", session="tx-1")  # carries the publisher's session: delivered at once
        seen.append("after erasure")

    events.subscribe("t.opened", erasing)
    events.publish("t.opened")
    assert seen == ["auto-contain saw opened", "auto-contain done", "comms: opened", "erased in tx-1",
                    "after erasure", "comms: contained"]


def test_durable_events_keep_the_order_and_tell_the_outbox_when_delivered() -> None:
    events = EventBus()
    seen: list[str] = []
    told: list[tuple[int, list[str]]] = []
    events.on_delivered = lambda entry, failed: told.append((entry, failed))

    def auto_contain(**_: Any) -> None:
        events.publish_durable("t.changed", 2, what="contained")  # waits for "opened" to reach everyone
        seen.append("auto-contain done")

    events.subscribe("t.opened", auto_contain)
    events.subscribe("t.opened", lambda **_: seen.append("comms: opened"))
    events.subscribe("t.changed", lambda what, **_: seen.append(f"comms: {what}"))
    assert events.publish_durable("t.opened", 1) == []
    assert seen == ["auto-contain done", "comms: opened", "comms: contained"]
    assert told == [(1, []), (2, [])]


def test_events_published_together_reach_a_batch_handler_at_once_or_each_alone_when_it_fails() -> None:
    events = EventBus()
    seen: list[Any] = []
    told: list[tuple[int, list[str]]] = []
    events.on_delivered = lambda entry, failed: told.append((entry, failed))

    def one(n: int, **_: Any) -> None:
        if n == 3:
            raise ValueError("bad")
        seen.append(("one", n))
        events.publish("t.after", n=n)

    def many(payloads: list[dict[str, Any]]) -> None:
        if any(p["n"] == 3 for p in payloads):
            raise ValueError("all or nothing")
        seen.append(("many", [p["n"] for p in payloads]))
        for p in payloads:
            events.publish("t.after", n=p["n"])

    events.subscribe("t.fired", one, name="one", many=many)
    events.subscribe("t.fired", lambda n, **_: seen.append(("plain", n)), name="plain")
    events.subscribe("t.after", lambda n, **_: seen.append(("after", n)))

    events.publish_durable_many("t.fired", [(10, {"n": 1}), (11, {"n": 2})])
    assert seen == [("many", [1, 2]), ("plain", 1), ("plain", 2), ("after", 1), ("after", 2)]
    assert told == [(10, []), (11, [])]

    seen.clear()
    told.clear()
    events.publish_durable_many("t.fired", [(12, {"n": 2}), (13, {"n": 3}), (None, {"n": 4})])
    assert seen == [("one", 2), ("one", 4), ("plain", 2), ("plain", 3), ("plain", 4), ("after", 2), ("after", 4)]
    assert told == [(12, []), (13, ["one"])]
    assert events.failures["t.fired"] == 1
