"""What a person types about themselves does not reach the searchable copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline.db import Database
from tests.support.fireline import Fireline, running

PROMPT = ("Hi, I'm Aoife Ní Bhriain, born 12/04/1987. Please send the replacement to "
          "14 Grafton Street, Dublin 2 and tell Dr. Okonkwo at Nordlys Consulting AB.")


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def test_a_name_and_an_address_in_a_prompt_reach_the_viewer_as_placeholders(fl: Fireline) -> None:
    call = {"id": "p-1", "app": "support-bot", "input": [{"role": "user", "content": PROMPT}],
            "output": "Sure Aoife, the parcel goes to 14 Grafton Street tomorrow."}
    with fl.client("ingest") as http:
        assert http.post("/api/v1/calls", json=call).status_code == 201
    with fl.client("viewer") as viewer:
        seen = viewer.get("/api/v1/calls/p-1").json()
        by_name = viewer.get("/api/v1/calls", params={"q": "Bhriain"}).json()["calls"]
        by_street = viewer.get("/api/v1/calls", params={"q": "Grafton"}).json()["calls"]
        by_word = viewer.get("/api/v1/calls", params={"q": "replacement"}).json()["calls"]
    typed = seen["input"][0]["content"]
    for secret in ("Aoife", "Bhriain", "Grafton", "12/04/1987", "Okonkwo", "Nordlys"):
        assert secret not in typed and secret not in seen["output"], secret
    assert "<PERSON>" in typed and "<STREET_ADDRESS>" in typed and "<DATE_TIME>" in typed
    assert "please send the replacement" in typed.lower()  # the rest of the prompt stays searchable
    assert by_name == [] and by_street == []
    assert [c["id"] for c in by_word] == ["p-1"]
    with fl.client("responder") as responder:
        raw = responder.get("/api/v1/calls/p-1", params={"reason": "support ticket 7"}).json()
    assert raw["input"][0]["content"] == PROMPT
