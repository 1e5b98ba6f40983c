"""A query parameter a GET route does not read is a 422 naming it: FastAPI dropped it silently, so
a misspelt filter searched (and counted) everything, and the console's Drills page asked for
`drill=true` and got the latest incidents of every kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline.db import Database
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(sqlite_db: Database) -> Iterator[Fireline]:
    with running(sqlite_db) as server:
        yield server


def test_a_misspelt_filter_is_a_422_naming_it_not_an_answer_about_everything(fl: Fireline) -> None:
    with fl.client("ingest") as http:
        for i, tenant in enumerate(("acme", "globex", "globex")):
            r = http.post("/api/v1/calls", json={"id": f"q-{i}", "app": "bot", "tenant": tenant, "output": "hi"})
            assert r.status_code == 201, r.text
    with fl.client("viewer") as http:
        r = http.get("/api/v1/calls/count", params={"tenat": "acme"})
        assert r.status_code == 422 and r.json()["field"] == "tenat", r.text
        assert r.json()["detail"] == "tenat: unknown query parameter; did you mean tenant?"
        assert http.get("/api/v1/calls/count", params={"tenant": "acme"}).json() == {"count": 1}
        page = http.get("/api/v1/calls", params={"app": "bot", "session": "s", "limit": 2})  # aliases, dependencies
        assert page.status_code == 200, page.text
        r = http.get("/api/v1/incidents", params={"sevrity": "P0"})
        assert r.status_code == 422 and "did you mean severity?" in r.json()["detail"]
        r = http.get("/api/v1/keys/me", params={"verbose": "1"})
        assert r.status_code == 422 and r.json()["detail"] == "verbose: unknown query parameter; this path takes none"


def test_the_drill_filter_the_console_sends_is_read(fl: Fireline) -> None:
    with fl.client("responder") as http:
        for title, drill in (("a drill", True), ("a real one", False)):
            r = http.post("/api/v1/incidents", json={"title": title, "type": "hallucination", "severity": "P3",
                                                     "drill": drill})
            assert r.status_code == 201, r.text
        drills = http.get("/api/v1/incidents", params={"drill": "true", "limit": 100}).json()["incidents"]
        real = http.get("/api/v1/incidents", params={"drill": "false"}).json()["incidents"]
    assert [i["title"] for i in drills] == ["a drill"] and [i["title"] for i in real] == ["a real one"]


def test_a_422_reads_as_one_sentence_naming_the_field(fl: Fireline) -> None:
    """Validators' messages came with pydantic's "Value error, " in the middle of the sentence."""
    with fl.client("ingest") as http:
        r = http.post("/api/v1/reports", json={"call_id": "c-1", "kind": "wrong", "at": "0001-01-01T00:00:00+05:00"})
    assert r.status_code == 422 and r.json()["detail"] == "at: is outside the years 1-9999 once converted to UTC"
