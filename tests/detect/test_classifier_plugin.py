"""A team brings its own classifier through FIRELINE_CONFIG; it runs on every ingested call."""

from __future__ import annotations

import pytest

from fireline.config import Config, ConfigError
from fireline.db import Database
from fireline.detect.api import check
from tests.support.fireline import running

PLUGIN = {"detectors": {"harmful_output": {"classifiers": ["tests.detect.plugin_classifier:BananaClassifier"]}}}


def test_configured_classifier_flags_calls_on_ingest(sqlite_db: Database) -> None:
    with running(sqlite_db, Config.model_validate(PLUGIN)) as fl:
        with fl.client("ingest") as http:
            http.post("/api/v1/calls", json={"calls": [{"id": "b", "app": "bot", "output": "Bananas are great."},
                                                       {"id": "c", "app": "bot", "output": "Cherries are great."}]})
        with fl.client("viewer") as http:
            found = {c: http.get(f"/api/v1/calls/{c}").json()["findings"] for c in ("b", "c")}
    assert [(f["detector"], f["entity"]) for f in found["b"]] == [("harmful_output", "classifier:bananas")]
    assert found["c"] == []


def test_a_classifier_that_cannot_load_names_the_field() -> None:
    bad = {"detectors": {"harmful_output": {"classifiers": ["tests.detect.nowhere:Nothing"]}}}
    with pytest.raises(ConfigError, match=r"detectors.harmful_output.classifiers\[0\]"):
        check(Config.model_validate(bad))


def test_a_failing_classifier_never_costs_the_call(sqlite_db: Database) -> None:
    broken = {"detectors": {"harmful_output": {"classifiers": ["tests.detect.plugin_classifier:BrokenClassifier"]}}}
    with running(sqlite_db, Config.model_validate(broken)) as fl:
        with fl.client("ingest") as http:
            r = http.post("/api/v1/calls", json={"id": "x", "app": "bot", "output": "mail jane@example.com"})
        assert r.status_code == 201
        with fl.client("viewer") as http:
            found = http.get("/api/v1/calls/x").json()["findings"]
    assert [f["kind"] for f in found] == ["pii_leak"]  # the other detectors still had their say
