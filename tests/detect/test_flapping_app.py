"""A ratio monitor at its threshold through the real app (tests/detect/flapping.py): the flap is one
firing, one incident and one page; a genuine recovery resolves it, and a spike after that pages
again as a repeat. A responder resolves the incident whenever the alert resolves, so every
resolve the monitor emitted during the flap would have been a new incident and a new page."""

from __future__ import annotations

from fireline.db import Database
from tests.detect.flapping import run


def test_a_flapping_monitor_opens_one_incident_and_pages_once(db: Database) -> None:
    out = run(db, flap_minutes=90, follow=True)
    assert out.after_flap == {"incidents": 1, "pages": 1, "resolved": 0}, out.as_dict()  # 90 minutes at the threshold
    # before hysteresis: 10 firings and 10 resolves, 10 incidents, 10 pages (bench/flap.py --follow)
    assert (out.fired, out.resolved) == (2, 2), out.as_dict()  # the flap, then the genuine spike
    assert (out.incidents, out.repeats, out.pages) == (2, 1, 2), out.as_dict()
    assert out.timeline["alert_resolved"] == 2 and out.timeline["opened"] == 2
