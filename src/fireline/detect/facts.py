"""Monitor facts: what the monitors need of one call (or one report), computed once.

A fact is what `Engine.observe` counts, what the startup rebuild and investigations replay, and
what `detect.feed` sends to the other processes (ids and attributes, never content).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_BUILTIN = frozenset({"app", "tenant", "model", "alias", "route", "prompt_version"})


@dataclass(slots=True)
class Fact:
    """What the monitors need of one call (or one report), computed once."""

    id: str
    minute: int
    app: str
    tenant: str | None
    model: str | None
    prompt_version: str | None
    tools: tuple[str, ...]
    status: str = "ok"
    cost: float | None = None
    latency: float | None = None
    findings: tuple[dict[str, Any], ...] = ()
    report_kind: str | None = None  # set for a report instead of a call
    session: str | None = None
    api_key: str | None = None
    alias: str | None = None  # the model the app asked for (the resolved one is `model`)
    route: str | None = None
    attrs: dict[str, str] | None = None  # declared cohort attributes (metadata) of the call
    features: dict[str, tuple[int, float]] | None = None  # distribution features: (bin, value)

    def key(self, name: str) -> tuple[str, ...]:
        if name == "tool":
            return self.tools or ("-",)
        value = getattr(self, name) if name in _BUILTIN else (self.attrs.get(name) if self.attrs else None)
        return (value if value is not None else "-",)


def key_signature(keys: Iterable[str]) -> Callable[[Fact, bool], Any]:
    """What a call's groups in every family depend on: whether it was contained and its raw values
    of the group-by and filter keys (the values `Fact.key` turns into group names)."""
    builtin = sorted(k for k in set(keys) if k in _BUILTIN)
    attrs = tuple(sorted(k for k in set(keys) if k not in _BUILTIN and k != "tool"))
    tools = "tool" in keys
    get = operator.attrgetter(*builtin) if builtin else (lambda fact: None)

    def signature(fact: Fact, contained: bool) -> Any:
        a = fact.attrs
        return (contained, get(fact), fact.tools if tools else None,
                tuple([a.get(k) for k in attrs]) if a and attrs else None)
    return signature
