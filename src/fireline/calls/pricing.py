"""Cost of a call from its tokens, for sources that report tokens but not money (the gateway, OTLP).

The default list ships with Fireline (calls/prices.yaml, built from pydantic's maintained
genai-prices database by scripts/build_prices.py); config section `pricing` (model ->
{input, output} in USD per million tokens) adds models and overrides the defaults. A model is
matched exactly, then by the longest listed prefix (so `gpt-4o` prices `gpt-4o-2024-08-06`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from fireline.config import Config
from fireline.config_keys import ConfigError, check_keys


@lru_cache(maxsize=1)
def default_prices() -> dict[str, tuple[float, float]]:
    text = resources.files("fireline.calls").joinpath("prices.yaml").read_text(encoding="utf-8")
    return _table(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {})  # libyaml: ~8x faster


def _table(section: dict[str, Any]) -> dict[str, tuple[float, float]]:
    table: dict[str, tuple[float, float]] = {}
    for model, prices in section.items():
        if isinstance(prices, dict):
            table[str(model)] = (float(prices.get("input", 0.0)), float(prices.get("output", 0.0)))
    return table


class PriceTable(dict[str, tuple[float, float]]):
    """model -> (input, output) USD per million tokens, remembering the prefix each model matched."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.prefixed: dict[str, tuple[float, float] | None] = {}


def check_config(config: Config) -> None:
    """The `pricing` section: model -> {input, output}; ConfigError naming the field (a typo such
    as `inptu:` would silently price a model at zero)."""
    section = config.section("pricing")
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError("pricing: a mapping of model -> {input, output} (USD per million tokens)")
    for model, prices in section.items():
        if not isinstance(prices, dict):
            raise ConfigError(f"pricing.{model}: a mapping with input and output (USD per million tokens)")
        check_keys(prices, ("input", "output"), f"pricing.{model}")
        for side, value in prices.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ConfigError(f"pricing.{model}.{side}: must be a number of 0 or more (USD per million "
                                  f"tokens), not {str(value)[:40]!r}")


def price_table(config: Config) -> dict[str, tuple[float, float]]:
    return PriceTable({**default_prices(), **_table(config.section("pricing") or {})})


def cost_usd(table: dict[str, tuple[float, float]], model: str | None, input_tokens: Any,
             output_tokens: Any) -> float | None:
    if not model or not table or (input_tokens is None and output_tokens is None):
        return None
    prices = table.get(model)
    if prices is None:
        memo = table.prefixed if isinstance(table, PriceTable) else {}
        if model not in memo:
            prefixes = [m for m in table if model.startswith(m)]
            if len(memo) > 4096:
                memo.clear()
            memo[model] = table[max(prefixes, key=len)] if prefixes else None
        prices = memo[model]
        if prices is None:
            return None
    return round(((input_tokens or 0) * prices[0] + (output_tokens or 0) * prices[1]) / 1_000_000, 8)
