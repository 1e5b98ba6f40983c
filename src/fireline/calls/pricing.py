"""Cost of a call from its tokens, for sources that report tokens but not money (the gateway).

Config section `pricing`: model -> {input, output} in USD per million tokens. A model is matched
exactly, then by the longest configured prefix (so `gpt-4o` prices `gpt-4o-2024-08-06`).
"""

from __future__ import annotations

from typing import Any

from fireline.config import Config


def price_table(config: Config) -> dict[str, tuple[float, float]]:
    section = config.section("pricing") or {}
    table: dict[str, tuple[float, float]] = {}
    for model, prices in section.items():
        if isinstance(prices, dict):
            table[str(model)] = (float(prices.get("input", 0.0)), float(prices.get("output", 0.0)))
    return table


def cost_usd(table: dict[str, tuple[float, float]], model: str | None, input_tokens: Any,
             output_tokens: Any) -> float | None:
    if not model or not table or (input_tokens is None and output_tokens is None):
        return None
    prices = table.get(model)
    if prices is None:
        prefixes = [m for m in table if model.startswith(m)]
        if not prefixes:
            return None
        prices = table[max(prefixes, key=len)]
    return round(((input_tokens or 0) * prices[0] + (output_tokens or 0) * prices[1]) / 1_000_000, 8)
