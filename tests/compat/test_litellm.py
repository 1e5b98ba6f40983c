"""litellm as a client (the SDK, not its proxy), unchanged but for the base URL, through Fireline's
gateway: chat completions, the Responses API, embeddings and legacy completions."""

from __future__ import annotations

import os
from types import ModuleType

import pytest

from tests.compat.conftest import APP, assert_complete, stored
from tests.support.fireline import Fireline


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    """Imported when a test here runs, not when the suite is collected (~3 s, in every worker)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm's own price map: from the wheel, no fetch
    return pytest.importorskip("litellm")


HEADERS = {"X-Fireline-App": APP, "X-Fireline-Session": "sess-litellm"}


def _args(fl: Fireline) -> dict[str, object]:
    return {"api_base": fl.url + "/v1", "api_key": fl.keys["ingest"], "extra_headers": HEADERS, "num_retries": 0,
            "timeout": 20}


def test_litellm_completion(fl: Fireline, litellm: ModuleType) -> None:
    out = litellm.completion(model="openai/gpt-4o-mini", user="lia@example.com",
                             messages=[{"role": "user", "content": "Where is my order?"}], **_args(fl))
    assert out.choices[0].message.content
    assert_complete(stored(fl, user="lia@example.com"), user="lia@example.com", session="sess-litellm")


def test_litellm_streamed_completion(fl: Fireline, litellm: ModuleType) -> None:
    chunks = litellm.completion(model="openai/gpt-4o-mini", user="lis@example.com", stream=True,
                                messages=[{"role": "user", "content": "Where is my order?"}], **_args(fl))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert_complete(stored(fl, user="lis@example.com"), user="lis@example.com", session="sess-litellm")


def test_litellm_responses(fl: Fireline, litellm: ModuleType) -> None:
    out = litellm.responses(model="openai/gpt-4o-mini", input="Where is my order?", user="lir@example.com",
                            **_args(fl))
    assert out.output
    call = stored(fl, user="lir@example.com")
    assert_complete(call, user="lir@example.com", session="sess-litellm")
    assert call["metadata"]["api"] == "responses"


def test_litellm_embedding(fl: Fireline, litellm: ModuleType) -> None:
    out = litellm.embedding(model="openai/text-embedding-3-small", input=["refund policy", "shipping times"],
                            user="lie@example.com", **_args(fl))
    assert len(out.data) == 2
    call = stored(fl, user="lie@example.com", want="input")
    assert [m["content"] for m in call["input"]] == ["refund policy", "shipping times"]
    assert call["input_tokens"] and call["cost_usd"] and call["session_id"] == "sess-litellm"
