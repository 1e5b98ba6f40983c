"""openai and langchain-openai, unchanged but for the base URL, through Fireline's gateway."""

from __future__ import annotations

import openai
import pytest

from tests.compat.conftest import APP, assert_complete, stored
from tests.support.fireline import Fireline

HEADERS = {"X-Fireline-App": APP, "X-Fireline-Session": "sess-gw"}


def _client(fl: Fireline) -> openai.OpenAI:
    return openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys["ingest"], max_retries=0, timeout=20,
                         default_headers=HEADERS)


def test_openai_chat_completions(fl: Fireline) -> None:
    raw = _client(fl).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", user="ann@example.com", messages=[{"role": "user", "content": "Where is my order?"}])
    assert_complete(stored(fl, call_id=raw.headers["x-fireline-call-id"]), user="ann@example.com",
                    session="sess-gw")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_responses(fl: Fireline, stream: bool) -> None:
    c = _client(fl)
    if stream:
        with c.responses.stream(model="gpt-4o-mini", input="Where is my order?", user="ben@example.com") as s:
            assert s.get_final_response().output_text
    else:
        assert c.responses.create(model="gpt-4o-mini", input="Where is my order?", user="ben@example.com").output_text
    call = stored(fl, user="ben@example.com")
    assert_complete(call, user="ben@example.com", session="sess-gw")
    assert call["metadata"]["api"] == "responses"


@pytest.mark.parametrize("responses_api", [False, True], ids=["chat", "responses"])
def test_langchain_openai_chat(fl: Fireline, responses_api: bool) -> None:
    from langchain_openai import ChatOpenAI  # imported here, not at collection (~1 s in every worker)

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=fl.url + "/v1", api_key=fl.keys["ingest"],  # type: ignore[arg-type]
                     default_headers=HEADERS, max_retries=0, use_responses_api=responses_api,
                     model_kwargs={"user": "cy@example.com"})
    answer = llm.invoke([("system", "You are support."), ("human", "Where is my order?")])
    assert answer.text
    call = stored(fl, user="cy@example.com")
    assert_complete(call, user="cy@example.com", session="sess-gw")
    assert call["system_prompt"] == "You are support."
    assert call["metadata"].get("api", "chat") == ("responses" if responses_api else "chat")


def test_langchain_openai_embeddings(fl: Fireline) -> None:
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(model="text-embedding-3-small", base_url=fl.url + "/v1",  # type: ignore[call-arg]
                           api_key=fl.keys["ingest"], default_headers=HEADERS, max_retries=0,  # type: ignore[arg-type]
                           check_embedding_ctx_length=False, model_kwargs={"user": "dee@example.com"})
    vectors = emb.embed_documents(["refund policy", "shipping times"])
    assert len(vectors) == 2 and len(vectors[0]) == 8
    call = stored(fl, user="dee@example.com", want="input")
    assert [m["content"] for m in call["input"]] == ["refund policy", "shipping times"]
    assert call["input_tokens"] and call["cost_usd"] and call["session_id"] == "sess-gw"
