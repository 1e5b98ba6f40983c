"""Replayed incidents over realistic baselines: days of normal traffic with noise, backdated.

Answers vary in length and wording, a small share of every stream is the background noise the
monitors must live with (1% refusals, 1% odd answers), and the incident happens on one slice.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.detect.streams import call

Call = dict[str, Any]

QUESTIONS = [
    "Where is my order {n}? It should have arrived by now and I need it for a trip next week.",
    "Can I change the delivery address for order {n} to my office instead of my home address?",
    "How do I return the shoes from order {n}? They are one size too small for my son.",
    "Why was I charged twice for order {n}? I see two payments on my credit card statement.",
    "Is there a discount for students on annual plans, and how do I prove that I am a student?",
]
ANSWERS = [
    "Order {n} left our warehouse yesterday and should reach you within two working days. You will "
    "receive a tracking link by e-mail as soon as the carrier scans the parcel.",
    "I have updated the delivery address for order {n}. The carrier will bring it to your office; please "
    "make sure someone can sign for it between nine and five.",
    "You can return the shoes from order {n} within thirty days. Print the prepaid label from your account "
    "page, pack the shoes in their box and drop the parcel at any post office.",
    "I can see two authorisations for order {n}, but only one was captured. The second one will disappear "
    "from your statement within three to five business days.",
    "Yes, students get twenty percent off annual plans. Verify your status with your university e-mail "
    "address on the account page and the discount applies at checkout.",
]
REFUSAL = "I'm sorry, but I can't help with that request."
WRONG_LANGUAGE = [
    "Ihre Bestellung {n} hat gestern unser Lager verlassen und sollte Sie innerhalb von zwei Werktagen erreichen.",
    "您的订单{n}昨天已从仓库发出，预计两个工作日内送达。承运商扫描包裹后，您会收到跟踪链接。",
    "Votre commande {n} a quitté notre entrepôt hier et devrait vous parvenir sous deux jours ouvrables.",
]


def garbled(rng: random.Random, n: int) -> str:
    """A corrupted answer: random letters, mis-decoded bytes, or a wrong-language answer."""
    kind = rng.randrange(3)
    if kind == 0:
        return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
                        for _ in range(rng.randint(18, 30)))
    if kind == 1:
        text = ANSWERS[n % len(ANSWERS)].format(n=n)
        return text.replace("'", "â€™").replace("e", "Ã©").replace(" a", " Ã¤")
    return rng.choice(WRONG_LANGUAGE).format(n=n)


def normal(rng: random.Random, i: int, at: datetime, **over: Any) -> Call:
    k = rng.randrange(len(QUESTIONS))
    n = 1000 + i
    answer = ANSWERS[k].format(n=n)
    c = call(i, at, input=[{"role": "user", "content": QUESTIONS[k].format(n=n)}], output=answer,
             output_tokens=max(5, int(rng.gauss(len(answer) / 4, 8))), tool_calls=[])
    c.update(over)
    return c


Shape = Callable[[random.Random, int, datetime, Call], Call]


def stream(rng: random.Random, start: datetime, end: datetime, per_hour: float, shape: Shape | None = None,
           **over: Any) -> list[Call]:
    """Calls at exponential gaps (Poisson arrivals) between start and end."""
    out: list[Call] = []
    t = start
    i = 0
    while True:
        t += timedelta(seconds=rng.expovariate(per_hour / 3600))
        if t >= end:
            return out
        c = normal(rng, i, t, **over)
        out.append(shape(rng, i, t, c) if shape else c)
        i += 1


def noise(rate_refusal: float = 0.01, rate_odd: float = 0.01) -> Shape:
    """The background every stream carries: a few refusals and a few odd answers."""
    def shape(rng: random.Random, i: int, t: datetime, c: Call) -> Call:
        r = rng.random()
        if r < rate_refusal:
            c["output"] = REFUSAL
        elif r < rate_refusal + rate_odd:
            c["output"] = garbled(rng, 1000 + i)
        return c
    return shape


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def by_time(*streams: list[Call]) -> list[Call]:
    return sorted((c for s in streams for c in s), key=lambda c: c["started_at"])
