"""Identities in metadata: every value under a key that names a person is stored as its pseudonym,
at any nesting the walk covers, and nothing else changes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fireline.calls import privacy
from fireline.db import Database
from tests.support.fireline import running

IDENTITY_KEYS = ["user", "user_id", "userId", "UserName", "enduser.id", "user.id", "customer", "customer_email",
                 "email", "e-mail", "traceloop.association.properties.user_id", "member_id", "patient.id"]
OTHER_KEYS = ["plan", "request_id", "session.id", "user_agent", "tenant", "model", "gen_ai.system", "emails_sent",
              "tools_sha256", "mail_server", "gmail_label", "otel.span_name"]
values = st.one_of(st.text(min_size=1, max_size=12).filter(lambda v: not v.startswith("u_")),
                   st.integers(0, 10**9))


@st.composite
def metadata(draw: Any, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(IDENTITY_KEYS + OTHER_KEYS), max_size=6, unique=True)):
        out[key] = draw(values)
    if depth < 3 and draw(st.booleans()):
        out["nested"] = draw(metadata(depth + 1))
    return out


def walk(meta: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for k, v in meta.items():
        if isinstance(v, dict):
            found += walk(v, (*path, k))
        else:
            found.append(((*path, k), v))
    return found


@given(meta=metadata())
def test_identity_values_become_pseudonyms_and_the_rest_stays(meta: dict[str, Any]) -> None:
    out, first = privacy.pseudonymise_identities(meta)
    before, after = dict(walk(meta)), dict(walk(out))
    assert before.keys() == after.keys()
    identities = [str(v) for path, v in walk(meta) if path[-1] in IDENTITY_KEYS]
    for path, value in before.items():
        if path[-1] in IDENTITY_KEYS:
            assert after[path] == privacy.pseudonym(str(value))
        else:
            assert after[path] == value
    assert first == (identities[0] if identities else None)


def test_an_otlp_identity_in_association_properties_is_the_calls_user_and_erasure_finds_it(db: Database) -> None:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
             {"key": "traceloop.association.properties.user_id", "value": {"stringValue": "hank-42"}},
             {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                 [{"role": "user", "parts": [{"type": "text", "content": "where is my parcel?"}]}])}}]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
                               "scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c",
                                                          "spanId": "b7ad6b7169203331", "name": "chat",
                                                          "startTimeUnixNano": "1780000000000000000",
                                                          "endTimeUnixNano": "1780000001000000000",
                                                          "attributes": attrs}]}]}]}
    with running(db) as fl:
        with fl.client("ingest") as http:
            assert http.post("/v1/traces", json=body).status_code == 200
        with fl.client("viewer") as http:
            (call,) = http.get("/api/v1/calls", params={"app": "bot"}).json()["calls"]
        assert call["user_pseudonym"] == privacy.pseudonym("hank-42")
        assert "hank-42" not in json.dumps(call)
        with fl.client("responder") as http:
            assert http.delete("/api/v1/subjects/hank-42").json()["deleted_calls"] == 1
