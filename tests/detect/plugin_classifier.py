"""A team's own harmful-content classifier, loaded by import path from the config in tests."""

from __future__ import annotations


class BananaClassifier:
    """Flags any answer about bananas as violence: absurd on purpose, so only the plug-in can fire."""

    name = "bananas"

    def classify(self, text: str) -> list[tuple[str, float]]:
        return [("violence", 0.97)] if "banana" in text.lower() else []


class BrokenClassifier:
    """A plug-in with a bug: it raises on every answer."""

    name = "broken"

    def classify(self, text: str) -> list[tuple[str, float]]:
        raise RuntimeError("model file missing")
