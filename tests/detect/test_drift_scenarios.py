"""The replayed incidents of issue 14, each over days of realistic, noisy, backdated traffic:
a corrupted model slice, a silent model swap behind an alias, a cohort refused three times as
often. Each must be caught by the right monitor, naming the slice, and by no other."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from fireline.config import Config
from fireline.db import Database
from tests.detect.scenarios import REFUSAL, by_time, garbled, noise, now, stream
from tests.detect.streams import capture, send
from tests.support.fireline import running


def incident(http: Any, key: str) -> dict[str, Any]:
    found = [i for i in http.get("/api/v1/incidents").json()["incidents"] if i["dedup_key"] == key]
    assert len(found) == 1, key
    return found[0]


def test_corrupted_slice_on_one_model(db: Database) -> None:
    """0.8% extra garbled/wrong-language answers on one model for a day, then 16%: the corruption
    monitor fires on that model's slice only, with its onset at the rise, not days before."""
    rng = random.Random(11)
    t = now()
    small, big = t - timedelta(days=1), t - timedelta(minutes=40)

    def corrupt(rate_small: float, rate_big: float) -> Any:
        base = noise()

        def shape(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
            c = base(r, i, at, c)
            extra = rate_big if at >= big else rate_small if at >= small else 0.0
            if r.random() < extra:
                c["output"] = garbled(r, 1000 + i)
            return c
        return shape

    healthy = stream(rng, t - timedelta(days=2), t, 60, noise(), model="gpt-4o-2024-08-06")
    sick = stream(rng, t - timedelta(days=2), t, 60, corrupt(0.008, 0.16), model="claude-3-5-sonnet")
    # The busy hours: load rises on both models (the load-balancing change that amplified the bug).
    busy = [stream(rng, t - timedelta(hours=2), t, 180, shape, model=model)
            for shape, model in ((noise(), "gpt-4o-2024-08-06"), (corrupt(0.008, 0.16), "claude-3-5-sonnet"))]
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, by_time(healthy, sick, *busy))
        key = "monitor:corrupted_output_rate:app=support-bot,model=claude-3-5-sonnet"
        assert key in cap.keys, cap.keys
        assert not {k for k in cap.keys if "gpt-4o" in k}, cap.keys
        alert = cap.of(key)[0]
        assert alert.type == "quality_degradation" and alert.models == ("claude-3-5-sonnet",)
        onset = datetime.fromisoformat(alert.details["onset"]["at"])
        assert small - timedelta(hours=2) <= onset <= big + timedelta(minutes=10), (onset, small, big)
        with fl.client("responder") as http:
            inc = incident(http, key)
            assert inc["type"] == "quality_degradation" and "model=claude-3-5-sonnet" in inc["title"]
            assert inc["onset_at"] is not None


def test_silent_model_swap_behind_an_alias_makes_answers_three_times_longer(db: Database) -> None:
    rng = random.Random(12)
    t = now()
    swap = t - timedelta(minutes=50)

    def swapped(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        if at >= swap:
            c["model_resolved"] = "gpt-4o-2024-11-20"
            c["output"] = " ".join([c["output"]] * 3)
            c["output_tokens"] *= 3
        else:
            c["model_resolved"] = "gpt-4o-2024-08-06"
        return c

    calls = stream(rng, t - timedelta(days=3), t, 60, swapped, model="gpt-4o")
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, calls)
        key = "monitor:output_length:app=support-bot,alias=gpt-4o,prompt_version=v12"
        assert key in cap.keys, cap.keys
        alert = cap.of(key)[0]
        assert alert.details["ratio"] >= 2.4
        assert set(alert.models) == {"gpt-4o-2024-11-20"}, "the linked calls are the long ones"
        onset = datetime.fromisoformat(alert.details["onset"]["at"])
        assert abs((onset - swap).total_seconds()) <= 15 * 60, (onset, swap)


def test_cohort_refused_three_times_as_often_opens_a_bias_incident(db: Database) -> None:
    rng = random.Random(13)
    t = now()

    def refusals(rate: float) -> Any:
        def shape(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
            if r.random() < rate:
                c["output"] = REFUSAL
            return c
        return shape

    common = {"app": "loan-bot", "model": "gpt-4o"}
    a = stream(rng, t - timedelta(hours=20), t, 30, refusals(0.05), cohort="A", **common)
    b = stream(rng, t - timedelta(hours=20), t, 30, refusals(0.15), cohort="B", **common)
    unlabelled = stream(rng, t - timedelta(hours=20), t, 10, refusals(0.05), **common)
    config = Config.model_validate({"cohorts": {"attributes": ["segment"]}})
    with running(db, config) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, by_time(a, b, unlabelled))
        key = "monitor:refusal_disparity:app=loan-bot,cohort=B"
        assert key in cap.keys, cap.keys
        assert not {k for k in cap.keys if "refusal_disparity" in k and k != key}
        alert = cap.of(key)[0]
        assert alert.type == "bias" and alert.details["p_value"] < 0.01 and alert.details["ratio"] >= 2
        assert alert.details["cohort"] == "B"
        with fl.client("responder") as http:
            assert incident(http, key)["type"] == "bias"


def changes_of(http: Any, key: str) -> list[dict[str, Any]]:
    got = http.get(f"/api/v1/incidents/{incident(http, key)['id']}/changes", params={"hours": 72})
    assert got.status_code == 200, got.text
    return list(got.json()["changes"])


def test_what_changed_names_the_silent_swap_first(db: Database) -> None:
    """The alias resolves to another model (recorded by Fireline itself, nobody posted a marker);
    an unrelated config deploy twenty minutes earlier is ranked below it."""
    rng = random.Random(14)
    t = now()
    swap = t - timedelta(minutes=50)

    def swapped(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        c["model_resolved"] = "gpt-4o-2024-11-20" if at >= swap else "gpt-4o-2024-08-06"
        c["system_fingerprint"] = "fp_b2" if at >= swap else "fp_a1"
        if at >= swap:
            c["output_tokens"] *= 3
        return c

    calls = stream(rng, t - timedelta(days=3), t, 60, swapped, model="gpt-4o")
    with running(db) as fl:
        with fl.client("ingest") as http:
            decoy = {"kind": "config", "app": "support-bot", "from": "cache-ttl-60", "to": "cache-ttl-120",
                     "at": (swap - timedelta(minutes=20)).isoformat()}
            assert http.post("/api/v1/changes", json=decoy).status_code == 201
            send(http, calls)
        with fl.client("responder") as http:
            key = "monitor:output_length:app=support-bot,alias=gpt-4o,prompt_version=v12"
            ranked = changes_of(http, key)
            first = ranked[0]
            assert (first["kind"], first["from"], first["to"]) == ("model", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
            assert first["actor"] == "fireline" and first["details"]["attribute"] == "model"
            assert first["per_version"]["to"]["value"] > 2.4 * first["per_version"]["from"]["value"]
            kinds = [(c["kind"], c["details"].get("attribute")) for c in ranked]
            assert kinds.index(("config", None)) > 0
            auto = http.get("/api/v1/changes", params={"app": "support-bot", "kind": "model"}).json()["changes"]
            # Recorded once; the new model's own fingerprint is its starting state, not a change.
            assert len(auto) == 1


def test_regression_after_a_model_update_is_traced_to_the_update(db: Database) -> None:
    """Refusals 1% for three days; a prompt edit two days ago and a guardrail change an hour before
    the model update change nothing; after the update refusals rise to 10%. The refusal monitor
    fires with its onset at the update, and what-changed puts the update first."""
    rng = random.Random(15)
    t = now()
    prompt_edit, guard_edit, update = t - timedelta(days=2), t - timedelta(hours=4), t - timedelta(hours=3)
    old_guard = [{"name": "moderation", "stage": "output", "action": "allow", "threshold": 0.8}]
    new_guard = [{"name": "moderation", "stage": "output", "action": "allow", "threshold": 0.7}]

    def life(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        c["system_prompt"] = "You are ACME's support assistant. Be brief." if at >= prompt_edit else \
            "You are the support assistant of ACME. Answer briefly."
        c["guardrails"] = new_guard if at >= guard_edit else old_guard
        c["model_resolved"] = "gpt-4o-2024-11-20" if at >= update else "gpt-4o-2024-08-06"
        if r.random() < (0.1 if at >= update else 0.01):
            c["output"] = REFUSAL
        return c

    calls = by_time(stream(rng, t - timedelta(days=3), t - timedelta(hours=4), 40, life, model="gpt-4o"),
                    stream(rng, t - timedelta(hours=4), t, 120, life, model="gpt-4o"))
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, calls)
        key = "monitor:refusal_rate:app=support-bot"
        assert key in cap.keys, cap.keys
        onset = datetime.fromisoformat(cap.of(key)[0].details["onset"]["at"])
        assert abs((onset - update).total_seconds()) <= 1800, (onset, update)
        with fl.client("responder") as http:
            ranked = changes_of(http, key)
            assert (ranked[0]["kind"], ranked[0]["to"]) == ("model", "gpt-4o-2024-11-20"), ranked
            assert ranked[0]["before_onset_s"] > -1800
            others = {c["kind"] for c in ranked[1:]}
            assert {"prompt", "guardrail"} <= others


POLICY = ("Bereavement fares: we offer reduced fares to travellers who must travel because of the death of an "
          "immediate family member. Requests must be made before travel; bereavement rates cannot be applied "
          "to completed travel. Reduced fares are valid for 30 days.")
FAITHFUL = ("Bereavement fares must be requested before you travel; they cannot be applied to completed travel "
            "and are valid for 30 days [kb-12].")
INVENTED = ("Yes. You can apply for the bereavement fare retroactively: submit a refund request within 90 days "
            "of the ticket's issue date [kb-12].")


def test_invented_policy_with_a_correct_citation_is_a_hallucination(db: Database) -> None:
    rng = random.Random(16)
    t = now()
    drift = t - timedelta(minutes=45)

    def answer(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        c["retrieval"] = [{"id": "kb-12", "source": "policies", "text": POLICY}]
        c["input"] = [{"role": "user", "content": "My father died last week. Can I still get the bereavement "
                                                  "fare for the flight I already took?"}]
        c["output"] = INVENTED if r.random() < (0.3 if at >= drift else 0.005) else FAITHFUL
        return c

    calls = stream(rng, t - timedelta(days=2), t, 60, answer, app="kb-assistant")
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            ids = send(http, calls)
        key = "monitor:hallucination_rate:app=kb-assistant"
        assert key in cap.keys and not {k for k in cap.keys if "ungrounded_citations" in k}, cap.keys
        alert = cap.of(key)[0]
        assert alert.type == "hallucination"
        with fl.client("responder") as http:
            linked = http.get(f"/api/v1/calls/{alert.call_ids[0]}").json()
            kinds = {f["kind"] for f in linked["findings"] if f["detector"] == "grounding"}
            assert kinds == {"contradicted_claim", "unsupported_claim"}, linked["findings"]
            faithful = next(i for i, c in zip(ids, calls, strict=True) if c["output"] == FAITHFUL)
            assert not http.get(f"/api/v1/calls/{faithful}").json()["findings"]


SPANISH = [
    "¿Puedo pagar mi préstamo hipotecario antes de tiempo sin penalización y cuánto me costaría hacerlo ahora?",
    "¿Qué documentos necesito para solicitar una tarjeta de crédito si trabajo como autónomo en Madrid?",
    "Mi transferencia internacional lleva tres días retenida, ¿cuándo llegará el dinero a la cuenta de destino?",
]


def test_input_drift_new_language_and_topic_opens_distribution_shift(db: Database) -> None:
    """Two days of English order questions; then, for the last hour, a third of the questions come
    in Spanish about loans and transfers: the input language and topic monitors fire as
    distribution_shift naming the app; the stable app beside it stays quiet."""
    rng = random.Random(17)
    t = now()
    shift = t - timedelta(minutes=50)

    def spanish(r: random.Random, i: int, at: datetime, c: dict[str, Any]) -> dict[str, Any]:
        if at >= shift and r.random() < 0.35:
            c["input"] = [{"role": "user", "content": r.choice(SPANISH)}]
        return c

    calls = by_time(stream(rng, t - timedelta(days=2), t, 40, spanish),
                    stream(rng, t - timedelta(hours=2), t, 160, spanish),
                    stream(rng, t - timedelta(days=2), t, 40, app="steady-bot"),
                    stream(rng, t - timedelta(hours=2), t, 160, app="steady-bot"))
    with running(db) as fl, capture(fl.db.bus) as cap:
        with fl.client("ingest") as http:
            send(http, calls)
        for name in ("input_language_drift", "input_topic_drift"):
            key = f"monitor:{name}:app=support-bot"
            assert key in cap.keys, (name, cap.keys)
            alert = cap.of(key)[0]
            assert alert.type == "distribution_shift" and alert.details["value"] >= 0.25
            linked = {c["id"]: c for c in calls}
            assert all(linked[i]["input"][0]["content"] in SPANISH for i in alert.call_ids[:20]), \
                "the calls linked are the shifted ones"
        assert not {k for k in cap.keys if "steady-bot" in k}, cap.keys
