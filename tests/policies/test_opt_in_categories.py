"""Profanity and brand disparagement: off for every app, on for the app whose policy names them.
Replayed through the gateway with the real openai SDK (the support bot that swore after an update)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.policies.conftest import client, scripted, stored, wait_incident
from tests.support.fireline import Fireline, running, since_answered

FALLBACK = "Sorry, let me find a colleague to help."
CONFIG: dict[str, Any] = {
    "apps": {"support-bot": {"fallback": FALLBACK}, "other-bot": {}},
    "detectors": {"harmful_output": {"brands": ["Acme Cars"]}},
    "policies": [
        {"name": "brand-voice", "app": "support-bot", "target": "output",
         "detectors": ["profanity", "disparagement"], "type": "harmful_output", "severity": "P2", "action": "block"},
    ],
    "rule_alerts": {"repeat_s": 0.5},
}
SWEARING = "Honestly this damn car is shit, and Acme Cars is a total rip-off."


@pytest.fixture
def fl(db: Database, upstream: UpstreamServer) -> Iterator[Fireline]:
    upstream.reset()
    with running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as server:
        yield server


def say(fl: Fireline, app: str, text: str) -> Any:
    return client(fl).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", user="customer-9", messages=[{"role": "user", "content": "Is the car any good?"}],
        extra_headers={"X-Fireline-App": app, "X-Fireline-Tenant": "acme", **scripted(text)})


def test_profanity_and_disparagement_are_blocked_where_a_policy_names_them(fl: Fireline) -> None:
    polite = say(fl, "support-bot", "The car has a five-star safety rating and a 5-year warranty.")
    assert polite.parse().choices[0].message.content.startswith("The car has")

    rude = say(fl, "support-bot", SWEARING)
    assert rude.parse().choices[0].message.content == FALLBACK
    assert "policy:brand-voice" in rude.headers["x-fireline-contained"]
    call = stored(fl, rude.headers["x-fireline-call-id"])
    kinds = {f["kind"] for f in call["findings"] if f["detector"] == "policy:brand-voice"}
    assert kinds == {"detector"} and call["status"] == "blocked"
    assert not any(f["detector"] == "harmful_output" for f in call["findings"])  # opt-in: never on its own

    inc = wait_incident(fl, lambda i: "brand-voice" in i["title"])
    assert (inc["type"], inc["severity"]) == ("harmful_output", "P2")
    assert since_answered(inc["detected_at"], call) <= timedelta(seconds=1)  # on the server's clock

    # The same words from an app without the policy: passed through, no finding at all.
    other = say(fl, "other-bot", SWEARING)
    assert other.parse().choices[0].message.content == SWEARING
    assert stored(fl, other.headers["x-fireline-call-id"])["findings"] == []
