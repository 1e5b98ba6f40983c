"""Tool-argument baselines that stay clean: arguments scored by kind, learned from unflagged calls only."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from fireline.db import Database
from tests.detect.corpora import load_csv
from tests.support.fireline import Fireline, running


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db) as server:
        yield server


def research_queries() -> list[str]:
    """Free-text research questions written by people (TruthfulQA, XSTest): none repeats."""
    questions = [r["Question"] for r in load_csv("TruthfulQA/TruthfulQA.csv")]
    questions += [r["prompt"] for r in load_csv("exaggerated-safety/xstest_prompts.csv") if r["label"] == "safe"]
    return questions


def tool_call(i: int, app: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{app}-{i}", "app": app, "session_id": f"s-{i % 97}",
            "input": [{"role": "user", "content": "Research this for me."}], "output": "",
            "tool_calls": [{"name": name, "kind": "read", "arguments": arguments}]}


def post(fl: Fireline, calls: list[dict[str, Any]]) -> None:
    with fl.client("ingest") as http:
        for i in range(0, len(calls), 100):
            r = http.post("/api/v1/calls", json={"calls": calls[i:i + 100]})
            assert r.status_code == 201, r.text


def anomalies(fl: Fireline, app: str) -> list[dict[str, Any]]:
    with fl.client("viewer") as http:
        r = http.get("/api/v1/calls", params={"app": app, "detector": "tool_policy", "limit": 500})
        return [f for c in r.json()["calls"] for f in c["findings"] if f["kind"] == "argument_anomaly"]


def test_a_thousand_normal_research_calls_with_free_text_queries_raise_almost_nothing(fl: Fireline) -> None:
    rng = random.Random(13)
    queries = research_queries()
    assert len(queries) >= 1000
    calls = [tool_call(i, "research-agent", "web_search",
                       {"query": queries[i], "max_results": rng.choice([5, 10, 10, 20]),
                        "source": rng.choice(["web", "news", "scholar"]), "recency_days": rng.randint(7, 60)})
             for i in range(1000)]
    post(fl, calls)
    found = anomalies(fl, "research-agent")
    assert len(found) <= 10, [f["evidence"] for f in found]  # was 630 of 1,000 (free text scored as a category)
    # What the kinds still catch: a number far off its distribution, a value outside a small enumeration,
    # a structured argument changing shape.
    odd = [tool_call(2000, "research-agent", "web_search",
                     {"query": "anything at all", "max_results": 50_000, "source": "darkweb", "recency_days": 30})]
    post(fl, odd)
    evidence = sorted(f["evidence"] for f in anomalies(fl, "research-agent") if "max_results" in f["evidence"]
                      or "source" in f["evidence"])
    assert any("max_results" in e for e in evidence) and any("source unseen value" in e for e in evidence)


def test_a_zero_price_stays_an_anomaly_however_often_the_attacker_repeats_it(fl: Fireline) -> None:
    rng = random.Random(3)
    normal = [tool_call(i, "vend-agent", "set_price", {"item": "tungsten cube", "price": round(rng.gauss(3.0, 0.4), 2),
                                                      "buyer_email": f"buyer{i}@anthropic.example"})
              for i in range(60)]
    post(fl, normal)
    giveaways = [tool_call(100 + i, "vend-agent", "set_price", {"item": "tungsten cube", "price": 0,
                                                                "buyer_email": "https://free-stuff.example/claim"})
                 for i in range(40)]
    post(fl, giveaways)
    with fl.client("viewer") as http:
        for c in (giveaways[0], giveaways[-1]):  # flagged at the first and still at the fortieth
            found = http.get(f"/api/v1/calls/{c['id']}").json()["findings"]
            evidence = {f["evidence"].split(" ")[0] for f in found if f["kind"] == "argument_anomaly"}
            assert evidence == {"set_price.price", "set_price.buyer_email"}, found
