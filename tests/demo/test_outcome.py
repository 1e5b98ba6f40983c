"""The demo's measured times read in the order things happen."""

from __future__ import annotations

from fireline.demo.story import Outcome


def test_detection_is_never_reported_after_containment() -> None:
    # the story's poll saw the incident at 0.16 s, the traffic saw a contained answer at 0.14 s
    polled_late = Outcome(first_leak_at=10.0, detected_at=10.16, contained_at=10.14)
    assert polled_late.time_to_detect is not None and polled_late.time_to_contain is not None
    assert polled_late.time_to_detect <= polled_late.time_to_contain
    assert Outcome(first_leak_at=10.0, detected_at=10.1, contained_at=10.3).time_to_detect == 10.1 - 10.0
    assert Outcome(first_leak_at=10.0, detected_at=10.1).time_to_detect == 10.1 - 10.0
    assert Outcome(first_leak_at=10.0).time_to_detect is None
