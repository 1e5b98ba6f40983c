"""OTLP/HTTP traces on a real server: recorded fixtures in both conventions, both encodings."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from fireline.db import Database
from tests.ingest.helpers import CONFIG, as_protobuf, fixture_bytes, fixture_json, gz
from tests.support.fireline import Fireline, running

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
GENAI_TOOL_CALL = "otlp-5b8efff798038103d269b633813fc60c-b2b2b2b2b2b2b2b2"
GENAI_EVENTS_CALL = "otlp-0af7651916cd43dd8448eb211c80319c-e5e5e5e5e5e5e5e5"
OI_CALL = "otlp-7f3e1d2c4b5a69788796a5b4c3d2e1f0-3333333333333333"


def _call(fl: Fireline, call_id: str) -> dict[str, Any]:
    with fl.client("responder") as http:
        resp = http.get(f"/api/v1/calls/{call_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def _count(fl: Fireline, **params: str) -> int:
    with fl.client("viewer") as http:
        return int(http.get("/api/v1/calls/count", params=params).json()["count"])


def test_genai_fixture_json_and_openinference_protobuf(db: Database) -> None:
    with running(db, CONFIG) as fl, fl.client("ingest") as http:
        resp = http.post("/v1/traces", content=fixture_bytes("genai_agent.json"), headers=JS)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/json") and resp.json() == {}
        resp = http.post("/v1/traces", content=as_protobuf(fixture_bytes("openinference_rag.json")), headers=PB)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/x-protobuf"
        answer = ExportTraceServiceResponse.FromString(resp.content)
        assert not answer.HasField("partial_success")

        # agent, tool, HTTP and chain/embedding spans are not calls; tools and retrieval attach
        assert _count(fl, app="support-bot") == 2 and _count(fl, app="kb-assistant") == 1

        call = _call(fl, GENAI_TOOL_CALL)
        assert call["environment"] == "prod" and call["model"] == "gpt-4o"
        assert call["model_resolved"] == "gpt-4o-2024-08-06" and call["provider"] == "openai"
        assert (call["input_tokens"], call["output_tokens"]) == (182, 41)
        assert call["system_prompt"].startswith("You are the Acme support assistant")
        assert call["input"] == [{"role": "user", "content": "Refund order 1042, the blender arrived broken. "
                                                             "Mail me at jane.doe@example.com"}]
        assert call["output"] == "I'll issue the refund now."
        assert call["session_id"] == "conv_5j66UpCpwteGg4YSxUnt7lPY" and call["user_pseudonym"].startswith("u_")
        assert call["prompt_version"] == "v12" and call["status"] == "ok"
        assert call["trace_id"] == "5b8efff798038103d269b633813fc60c" and call["span_id"] == "b2b2b2b2b2b2b2b2"
        assert call["started_at"].startswith("2026-11-22T10:00:00.01") and abs(call["latency_ms"] - 1200) < 0.01
        [tool] = call["tool_calls"]
        assert tool["name"] == "issue_refund" and tool["kind"] == "write" and tool["status"] == "ok"
        assert tool["arguments"] == {"order_id": "1042", "amount": 49.9} and "rf_77" in tool["result"]
        [guard] = call["guardrails"]
        assert guard["name"] == "pii-output-filter" and guard["decision"] == "allow"
        meta = call["metadata"]
        assert meta["acme.feature_flag"] == "refunds-v2" and meta["finish_reasons"] == ["tool_call"]
        assert meta["service.version"] == "2.3.1" and "gen_ai.input.messages" not in meta
        assert any(f["detector"] == "pii" for f in call["findings"]) or call["findings"] == []

        failed = _call(fl, GENAI_EVENTS_CALL)  # deprecated names, structured event content, error status
        assert failed["status"] == "error" and failed["provider"] == "openai" and failed["model"] == "gpt-4o-mini"
        assert (failed["input_tokens"], failed["output_tokens"]) == (64, 0)
        assert failed["system_prompt"] == "Answer in one sentence."
        assert failed["input"] == [{"role": "user", "content": "What is your refund policy?"}]
        assert failed["session_id"] == "s-19" and failed["output"] is None
        assert failed["metadata"]["error.type"] == "RateLimitError"
        assert "429" in failed["metadata"]["error.message"]

        rag = _call(fl, OI_CALL)
        assert rag["environment"] == "staging" and rag["tenant"] == "globex"
        assert rag["model"] == "gpt-4o-mini" and rag["model_resolved"] == "gpt-4o-mini-2024-07-18"
        assert rag["system_prompt"] == "Answer only from the context. Context: {context}"
        assert rag["input"] == [{"role": "user", "content": "How do I reset my password?"}]
        assert rag["output"].startswith("Open Settings > Security")
        assert (rag["input_tokens"], rag["output_tokens"]) == (512, 38)
        assert rag["prompt_version"] == "kb-v3" and rag["session_id"] == "sess-42"
        assert [(d["id"], d["source"], d["score"]) for d in rag["retrieval"]] == [
            ("kb-7", "help-center", 0.91), ("kb-12", "VectorStoreRetriever", 0.55)]
        assert rag["retrieval"][0]["text"].startswith("To reset your password")
        [tool] = rag["tool_calls"]
        assert (tool["name"], tool["kind"], tool["id"], tool["result"]) == ("lookup_account", "read", "call_1",
                                                                            '{"plan": "pro"}')
        assert [g["name"] for g in rag["guardrails"]] == ["OutputGuard"]
        assert rag["metadata"]["channel"] == "web" and rag["metadata"]["tag.tags"] == ["rag", "beta"]
        assert not any(k.startswith("llm.input_messages") or k.startswith("llm.tools") for k in rag["metadata"])

        # re-export (an exporter retry) is idempotent: same ids, no duplicates
        assert http.post("/v1/traces", content=as_protobuf(fixture_bytes("genai_agent.json")),
                         headers=PB).status_code == 200
        assert http.post("/v1/traces", content=fixture_bytes("openinference_rag.json"), headers=JS).status_code == 200
        assert _count(fl, app="support-bot") == 2 and _count(fl, app="kb-assistant") == 1


def test_gzip_auth_partial_success_and_malformed(db: Database) -> None:
    body = fixture_json("openinference_rag.json")
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[2]["spanId"] = "zz"  # the LLM span with an invalid id: rejected, the others still stored
    spans.append(dict(spans[2], spanId="3333333333339999", traceId="0" * 32))  # all-zero trace id: rejected
    with running(db, CONFIG) as fl:
        with httpx.Client(base_url=fl.url, timeout=30) as anon:
            resp = anon.post("/v1/traces", content=b"", headers=PB)
            assert resp.status_code == 401 and "missing API key" in Status.FromString(resp.content).message
            resp = anon.post("/v1/traces", content=b"{}", headers={**JS, "Authorization": "Bearer nope"})
            assert resp.status_code == 401 and "invalid" in resp.json()["message"]
            # the header option for OTel exporters that cannot send Authorization: Bearer
            resp = anon.post("/v1/traces", content=gz(orjson.dumps(body)),
                             headers={**JS, "Content-Encoding": "gzip", "X-Fireline-Key": fl.keys["ingest"]})
            assert resp.status_code == 200, resp.text
            partial = resp.json()["partialSuccess"]
            assert partial["rejectedSpans"] == "2"
            assert "span_id must be 8 bytes" in partial["errorMessage"] and "trace_id" in partial["errorMessage"]
        assert _count(fl, app="kb-assistant") == 0  # its only valid LLM span had the bad id

        with fl.client("ingest") as http:
            resp = http.post("/v1/traces", content=gz(as_protobuf(fixture_bytes("genai_agent.json"))),
                             headers={**PB, "Content-Encoding": "gzip"})
            assert resp.status_code == 200 and _count(fl, app="support-bot") == 2
            resp = http.post("/v1/traces", content=b"\x0a\xff\xff\xff\x0fgarbage", headers=PB)
            assert resp.status_code == 400 and resp.headers["content-type"] == "application/x-protobuf"
            assert "not a valid ExportTraceServiceRequest" in Status.FromString(resp.content).message
            assert "not a valid" in resp.headers["x-fireline-error"]
            resp = http.post("/v1/traces", content=b'{"resourceSpans": [', headers=JS)
            assert resp.status_code == 400 and "not valid JSON" in resp.json()["message"]
            resp = http.post("/v1/traces", content=b'{"resourceSpans": {"a": 1}}', headers=JS)
            assert resp.status_code == 400 and resp.json()["code"] == 3
            resp = http.post("/v1/traces", content=b"not gzip", headers={**PB, "Content-Encoding": "gzip"})
            assert resp.status_code == 400 and "gzip" in Status.FromString(resp.content).message
            resp = http.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})
            assert resp.status_code == 415
            resp = http.post("/v1/traces", content=b"", headers=PB)  # an empty export is valid
            assert resp.status_code == 200 and resp.content == b""


def test_concurrent_exports_share_transactions_each_answered_for_its_own_spans(db: Database) -> None:
    """OTLP group commit (as native ingest's): exports arriving while one is stored are stored
    together; a malformed one fails alone, a partial one reports only its own rejected spans."""
    body = fixture_json("openinference_rag.json")
    n = 12
    exports = []
    for i in range(n):
        doc = orjson.loads(orjson.dumps(body))
        for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span["traceId"] = f"{i + 1:032x}"
        if i == 3:
            doc["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["spanId"] = "zz"  # its LLM span rejected
        exports.append(orjson.dumps(doc))
    exports[5] = b'{"resourceSpans": ['
    answers: dict[int, httpx.Response] = {}
    with running(db, CONFIG) as fl:
        start = threading.Barrier(n)

        def send(i: int) -> None:
            with fl.client("ingest") as http:
                start.wait()
                answers[i] = http.post("/v1/traces", content=exports[i], headers=JS)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert answers[5].status_code == 400
        assert answers[3].status_code == 200 and answers[3].json()["partialSuccess"]["rejectedSpans"] == "1"
        assert all(answers[i].status_code == 200 and answers[i].json() == {} for i in range(n) if i not in (3, 5))
        assert _count(fl, app="kb-assistant") == n - 2
        group, _ = fl.app.state.otlp_group
        assert group.groups < n  # some exports shared a commit
