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
