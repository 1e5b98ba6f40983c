"""Nothing of a prompt reaches the PostgreSQL server's log: values the engine would refuse are
rejected before SQL on every write path, so no failed statement (whose parameters the server can
log) carries content. A private cluster logs every error statement with its parameters in full."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import openai
import psycopg
import pytest

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.reliability.pgcluster import PgCluster, pg_bin
from tests.support.fireline import running

CARD = "4242 4242 4242 4242"
MARK = "platypusmeridian"
APP = "support-bot"
CONFIG = Config.model_validate({"apps": {APP: {"models": ["gpt-4o-mini"]}}, "auto_contain": {}})


@pytest.fixture
def verbose_pg() -> Iterator[PgCluster]:
    bin_dir = pg_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin) under CI=true")
        pytest.skip("PostgreSQL server binaries not found")
    cluster = PgCluster(bin_dir).init()
    with (cluster.data / "postgresql.conf").open("a") as conf:  # the worst case: failed statements in full
        conf.write("log_min_error_statement = error\nlog_parameter_max_length_on_error = -1\n"
                   "log_error_verbosity = verbose\n")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def otlp_span(value: str) -> dict[str, object]:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
             {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                 [{"role": "user", "parts": [{"type": "text", "content": value}]}])}}]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": APP}}]},
                               "scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c",
                                                          "spanId": "b7ad6b7169203331", "name": "chat",
                                                          "startTimeUnixNano": "1780000000000000000",
                                                          "endTimeUnixNano": "1780000001000000000",
                                                          "attributes": attrs}]}]}]}


def test_poison_on_every_path_leaves_no_content_in_the_server_log(verbose_pg: PgCluster) -> None:
    db = Database(verbose_pg.create_database("fl_pglog"))
    db.upgrade()
    poison = f"{MARK} card {CARD}\x00"
    try:
        with UpstreamServer() as upstream, running(db, CONFIG, upstream_url=upstream.base_url) as fl:
            with fl.client("ingest") as http:
                native = http.post("/api/v1/calls", json={"calls": [
                    {"app": APP, "input": [{"role": "user", "content": poison}]},
                    {"app": f"{APP}\x00", "input": [{"role": "user", "content": f"{MARK} {CARD}"}]}]})
                assert native.status_code == 422, native.text
                one = http.post("/api/v1/calls", json={"app": "x\x00", "output": f"{MARK} {CARD}"})
                assert one.status_code == 422, one.text
                traces = http.post("/v1/traces", json=otlp_span(poison))
                assert traces.status_code in (200, 400), traces.text
                if traces.status_code == 200:
                    assert traces.json().get("partialSuccess", {}).get("rejectedSpans") in (1, "1"), traces.text
                ok = http.post("/api/v1/calls", json={"app": APP, "input": [{"role": "user", "content": f"{MARK}"}]})
                assert ok.status_code == 201, ok.text  # the database is in use
            client = openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys["ingest"], max_retries=0, timeout=20)
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": poison}],
                                               extra_headers={"X-Fireline-App": APP})
            with fl.client("viewer") as http:
                for params in ({"q": poison}, {"app": poison}, {"user": poison}, {"tenant": poison}):
                    assert http.get("/api/v1/calls", params=params).status_code in (400, 422)
            with fl.client("responder") as http:
                declared = http.post("/api/v1/incidents", json={"title": poison, "type": "data_leakage"})
                assert declared.status_code == 422, declared.text
                assert http.delete(f"/api/v1/subjects/{MARK}%00").status_code in (400, 404, 422)
    finally:
        db.dispose()
    # The log would show it: a failed statement sent around our guards is logged with its parameters.
    with psycopg.connect(verbose_pg.admin_url.rsplit("/", 1)[0] + "/fl_pglog", autocommit=True) as conn, \
            pytest.raises(psycopg.Error):
        conn.execute("SELECT %s::int", ["canaryvalue-not-a-number"])
    log = verbose_pg.log.read_text(errors="replace")
    assert "canaryvalue-not-a-number" in log
    assert MARK not in log and CARD not in log and "4242424242424242" not in log
