"""A simulated AI support app: a population of users and tenants asking ordinary questions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fireline.drills.corpus import sample
from fireline.drills.scenario import CorpusRef

BUILTIN_QUESTIONS = [
    "Where is my order?", "How do I reset my password?", "Can I change my delivery address?",
    "What is your refund policy?", "Do you ship to Canada?", "How long does shipping take?",
    "My package arrived damaged, what now?", "Can I pay with PayPal?", "How do I cancel my subscription?",
    "Is there a student discount?", "What are your opening hours?", "How do I update my billing details?",
]
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")


def corpus_questions(limit: int = 300) -> list[str]:
    """Ordinary questions from TruthfulQA when the shared corpora sit beside the project."""
    return sample(CorpusRef(name="truthfulqa", field="question", limit=limit))


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant: str
    session: str


class Population:
    def __init__(self, users: int = 60, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.users = [User(id=f"user{i}@{TENANTS[i % len(TENANTS)]}.example", tenant=TENANTS[i % len(TENANTS)],
                           session=f"s-{i}") for i in range(users)]
        self.questions = corpus_questions() or BUILTIN_QUESTIONS

    def next(self, tenant: str | None = None) -> tuple[User, str]:
        pool = [u for u in self.users if tenant is None or u.tenant == tenant]
        return self.rng.choice(pool), self.rng.choice(self.questions)
