"""Done-when of "privacy that holds": names, addresses, cards, secrets and identities sent through
every path (native ingest, the gateway with the real openai SDK, OTLP with the real OTel SDK) are
nowhere in the clear: not in any file of the SQLite database (main, -wal, -shm), not in any text,
JSON or bytea column of PostgreSQL. Only the encrypted copy holds them (a responder reads them back)."""

from __future__ import annotations

import gzip
import json
import logging
import time
from pathlib import Path

import httpx
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.gateway.conftest import CONFIG, HEADERS, wait_rows
from tests.support.fireline import Fireline, running

NAME = "Margaret Thornbury"
ADDRESS = "221 Baker Street"
CARD = "4242 4242 4242 4242"
PASSWORD = "Tr0ub4dor-77x"
DB_PASSWORD = "S3cretPass9"
AWS = "AKIAQ3EGRTZK5EXAMPLE"
GITHUB = "ghp_R2d2C3poBb8Ee1Ll4Uu5Kk7Ww0Yy9Xx3Zz6Aa"
ANTHROPIC = "sk-ant-api03-" + "Qw3Er7Ty1Ui5Op9As3Df7Gh1Jk5Lz8Xc2Vb6Nm0" * 2 + "QwAA"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYXJnYXJldCJ9.c2lnbmF0dXJlLXZhbHVlLTEyMzQ"
EMAIL = "margaret.t@example.net"
USERS = ("mthornbury-native", "mthornbury-gateway", "mthornbury-otlp")
MARK = "quokkazanzibar"  # not personal: stays in the searchable copy, so the scan is seen to read it

PROMPT = (f"{MARK}: hi, I am {NAME} and I live at {ADDRESS}, London NW1 6XE. My card is {CARD}; "
          f"write to {EMAIL}.")
SECRETS = (f"{MARK}: our db is postgres://admin:{DB_PASSWORD}@db.internal:5432/app, password={PASSWORD}, "
           f"AWS key {AWS}, GitHub {GITHUB}, Anthropic {ANTHROPIC}, session token {JWT}")
CLEAR = (NAME, "Thornbury", ADDRESS, CARD, CARD.replace(" ", ""), PASSWORD, DB_PASSWORD, AWS, GITHUB, ANTHROPIC,
         JWT, EMAIL, *USERS)


def send_native(fl: Fireline) -> None:
    call = {"id": "native-1", "app": "support-bot", "user": USERS[0], "session_id": "sess-native",
            "input": [{"role": "user", "content": PROMPT}], "output": SECRETS,
            "retrieval": [{"id": "doc-1", "text": f"{MARK}: customer {NAME}, {ADDRESS}"}],
            "tool_calls": [{"name": "lookup_order", "arguments": {"card": CARD, "email": EMAIL},
                            "result": f"{MARK}: order for {NAME}"}],
            "metadata": {"customer_email": EMAIL, "note": f"{MARK}: {NAME} called"}}
    with fl.client("ingest") as http:
        r = http.post("/api/v1/calls", json={"calls": [call]})
        assert r.status_code == 201, r.text


def send_gateway(fl: Fireline, upstream: UpstreamServer) -> None:
    httpx.post(upstream.url + "/_script", json={"mode": "leak_pii", "params": {"text": SECRETS}}).raise_for_status()
    client = openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys["ingest"], max_retries=0, timeout=20)
    answer = client.chat.completions.create(
        model="gpt-4o-2024-08-06", user=USERS[1], messages=[{"role": "user", "content": PROMPT}],
        extra_headers=HEADERS)
    assert answer.choices[0].message.content  # the upstream's answer came back through the gateway


def send_otlp(fl: Fireline) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{fl.url}/v1/traces", headers={"X-Fireline-Key": fl.keys["ingest"]})
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("privacy-test")
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attributes({
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "enduser.id": USERS[2],
            "session.id": "sess-otlp", "traceloop.association.properties.customer_email": EMAIL,
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                {"type": "text", "content": SECRETS}]}])})
    provider.shutdown()


def sqlite_files(db: Database) -> dict[str, bytes]:
    path = Path(db.engine.url.database or "")
    files = {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}
    assert path.name in files
    return files


def postgres_hits(db: Database, values: tuple[str, ...]) -> list[str]:
    """'table.column: value' for every value found in any text, varchar, JSON or bytea column."""
    hits = []
    with db.engine.connect() as conn:
        columns = conn.execute(text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')")).all()
        assert len(columns) > 20
        for table, column, kind in columns:
            for value in values:
                if kind == "bytea":
                    cond = f'position(convert_to(:v, \'UTF8\') in "{column}") > 0'
                else:
                    cond = f'strpos("{column}"::text, :v) > 0'
                found = conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE {cond}'), {"v": value}).scalar()
                if found:
                    hits.append(f"{table}.{column}: {value}")
    return hits


def test_no_personal_data_in_the_clear_anywhere_in_the_database(db: Database, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fireline")
    caplog.set_level(logging.INFO)
    with UpstreamServer() as upstream, \
            running(db, Config.model_validate(CONFIG), upstream_url=upstream.base_url) as fl:
        send_native(fl)
        send_gateway(fl, upstream)
        send_otlp(fl)
        assert wait_rows(fl.db, 3) == 3
        time.sleep(0.5)  # detectors, incidents and their timelines settle
        # the encrypted copy holds everything, for a responder (and each read is access-logged)
        with fl.client("responder") as http:
            calls = http.get("/api/v1/calls", params={"limit": 10}).json()["calls"]
            assert len(calls) == 3
            for call in calls:
                raw = http.get(f"/api/v1/calls/{call['id']}", params={"raw": "true", "reason": "privacy test"})
                assert raw.status_code == 200 and CARD in raw.text and NAME in raw.text, raw.text
                assert call["user_pseudonym"] and call["user_pseudonym"].startswith("u_")
            # an incident over them: a title and a note pasted from the calls, the snapshot of its
            # acknowledgement (raw content, sealed), and an export a responder reads decrypted
            inc = http.post("/api/v1/incidents", json={
                "title": f"Leak: {PROMPT}", "summary": SECRETS, "type": "data_leakage",
                "call_ids": [c["id"] for c in calls], "apps": ["support-bot"]})
            assert inc.status_code == 201, inc.text
            iid = inc.json()["id"]
            assert http.post(f"/api/v1/incidents/{iid}/notes", json={"text": SECRETS}).status_code == 201
            (snap,) = http.get(f"/api/v1/incidents/{iid}/snapshots").json()["snapshots"]
            bundle = http.get(f"/api/v1/snapshots/{snap['id']}/export", params={"reason": f"audit of {NAME}"})
            assert bundle.status_code == 200
            assert CARD.encode() in gzip.decompress(bundle.content)  # decrypted for the responder
        with fl.client("admin") as admin:
            log = admin.get("/api/v1/access-log", params={"call_id": calls[0]["id"]}).json()["entries"]
            assert any(e["reason"].startswith("evidence export") for e in log)
    if db.is_sqlite:
        files = sqlite_files(db)
        everything = b"".join(files.values())
        assert MARK.encode() in everything
        found = [f"{name}: {v}" for name, data in files.items() for v in CLEAR if v.encode() in data]
    else:
        assert postgres_hits(db, (MARK,))
        found = postgres_hits(db, CLEAR)
    assert found == [], found
    # nor in our logs (ids only), whatever level they run at
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("fireline", "uvicorn",
                                                                                        "sqlalchemy"))
    assert [v for v in (*CLEAR, MARK) if v in ours] == []
