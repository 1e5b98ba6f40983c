"""Distribution and quality monitors measure what the model answered and what users asked it:
calls Fireline's containment answered (a kill switch's fallback) are left out of them, and their
language and topic histograms come back after a restart like the other monitors."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

import openai

from fireline.config import Config
from fireline.db import Database
from fireline.simulator.upstream import UpstreamServer
from tests.detect.scenarios import QUESTIONS, by_time, now, stream
from tests.detect.streams import capture, send
from tests.support.fireline import Fireline, running

ANSWERS_ONLY = ("output_length", "output_length_drop", "output_language_shift", "input_length_drift",
                "input_language_drift", "input_topic_drift", "latency_p99", "refusal_rate",
                "corrupted_output_rate", "hallucination_rate")
FALLBACK = "Support is paused; a person will reply shortly."
SPANISH = [
    "¿Puedo pagar mi préstamo hipotecario antes de tiempo sin penalización y cuánto me costaría hacerlo ahora?",
    "¿Qué documentos necesito para solicitar una tarjeta de crédito si trabajo como autónomo en Madrid?",
    "Mi transferencia internacional lleva tres días retenida, ¿cuándo llegará el dinero a la cuenta de destino?",
]


def group(fl: Fireline, monitor: str, name: str = "app=support-bot") -> dict[str, Any]:
    with fl.client("viewer") as http:
        mons = {m["name"]: m for m in http.get("/api/v1/monitors").json()["monitors"]}
    return next((g for g in mons[monitor]["groups"] if g["group"] == name), {})


def test_a_kill_switch_burst_does_not_look_like_drift(db: Database) -> None:
    """Two days of normal traffic, then a kill switch: the next 150 questions (users retrying the
    same few) are answered with the fallback through the gateway. Those calls are logged as
    contained, but no distribution or quality monitor counts them, so none fires."""
    rng = random.Random(21)
    t = now()
    calls = by_time(stream(rng, t - timedelta(days=2), t - timedelta(minutes=61), 40),
                    stream(rng, t - timedelta(hours=3), t - timedelta(minutes=61), 160))
    config = Config.model_validate({"apps": {"support-bot": {"fallback": FALLBACK}}, "auto_contain": {}})
    with UpstreamServer() as upstream, running(db, config, upstream_url=upstream.base_url) as fl, \
            capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, calls)
        with fl.client("admin") as http:
            r = http.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": "support-bot"},
                                                    "params": {}, "reason": "wrong refunds"})
            assert r.status_code == 201, r.text
        sdk = openai.OpenAI(base_url=fl.url + "/v1", api_key=fl.keys["ingest"], max_retries=0, timeout=10)
        for i in range(150):
            raw = sdk.chat.completions.with_raw_response.create(
                model="gpt-4o-2024-08-06", user=f"user{i % 9}@example.com",
                messages=[{"role": "user", "content": QUESTIONS[i % 2].format(n=2000 + i % 3)}],
                extra_headers={"X-Fireline-App": "support-bot", "X-Fireline-Tenant": "acme"})
            assert raw.parse().choices[0].message.content == FALLBACK
        assert upstream.script.count == 0
        with fl.client("viewer") as http:
            deadline = time.monotonic() + 20
            while (n := http.get("/api/v1/calls/count", params={"app": "support-bot", "status": "contained"})
                   .json()["count"]) < 150 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert n == 150
        fired = {k for k in cap.keys if k.split(":")[1] in ANSWERS_ONLY}
        assert not fired, fired
        # The monitors saw the burst (the hourly cost monitor counts its calls), not as the model's answers.
        volume = {m: group(fl, m)["volume"] for m in ("input_topic_drift", "cost_per_hour")}
        assert volume["cost_per_hour"] >= volume["input_topic_drift"] + 150, volume


def test_language_and_topic_histograms_come_back_after_a_restart(db: Database) -> None:
    """The baseline is ingested by one server, which then stops; a fresh server, whose memory holds
    nothing, gets the shifted hour: its language and topic drift monitors still compare against
    the two days before, rebuilt from the log, and fire."""
    rng = random.Random(17)
    t = now()
    shift = t - timedelta(minutes=50)

    def spanish(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        if at >= shift and r.random() < 0.35:
            c["input"] = [{"role": "user", "content": r.choice(SPANISH)}]
        return c

    calls = by_time(stream(rng, t - timedelta(days=2), t, 40, spanish),
                    stream(rng, t - timedelta(hours=2), t, 160, spanish))
    before = [c for c in calls if datetime.fromisoformat(c["started_at"]) < shift]
    after = [c for c in calls if datetime.fromisoformat(c["started_at"]) >= shift]
    with running(db) as fl, fl.client("ingest") as http:
        send(http, before)
    with running(db) as fl:  # a fresh process
        rebuilt = {m: group(fl, m, g).get("volume") for m, g in (
            ("input_language_drift", "app=support-bot"), ("input_topic_drift", "app=support-bot"),
            ("output_language_shift", "app=support-bot,model=gpt-4o-2024-08-06"))}
        assert all(rebuilt.values()), rebuilt  # the last hour before the shift, from the log
        with capture(fl.db.bus) as cap:
            with fl.client("ingest") as http:
                send(http, after)
            for name in ("input_language_drift", "input_topic_drift"):
                key = f"monitor:{name}:app=support-bot"
                assert key in cap.keys, (name, cap.keys, rebuilt)
                assert cap.of(key)[0].details["value"] >= 0.25
