"""Rebuild src/fireline/calls/prices.yaml, the default price list, from genai-prices (pydantic's
maintained database of LLM prices: https://github.com/pydantic/genai-prices).

    pip install genai-prices && python scripts/build_prices.py

Only flat per-token prices are taken (USD per million input and output tokens); tiered or
time-of-day prices are left to `pricing:` in FIRELINE_CONFIG, which overrides this list.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
from genai_prices import data

PROVIDERS = ("openai", "anthropic", "google", "mistral", "deepseek", "x-ai", "cohere", "groq")
OUT = Path(__file__).resolve().parent.parent / "src" / "fireline" / "calls" / "prices.yaml"


def flat(value: object) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else None


def main() -> None:
    version = getattr(genai_prices, "__version__", "")
    lines = [f"# Default prices, USD per million tokens, from genai-prices {version}".rstrip(),
             f"# (built {datetime.date.today().isoformat()} by scripts/build_prices.py; "
             "`pricing:` in FIRELINE_CONFIG overrides).",
             "# A model is priced by exact name, else by the longest name here that it starts with."]
    seen: set[str] = set()
    for provider in data.providers:
        if provider.id not in PROVIDERS:
            continue
        for model in provider.models:
            prices = model.prices
            if not hasattr(prices, "input_mtok"):
                continue  # conditional prices
            i, o = flat(prices.input_mtok), flat(prices.output_mtok)
            if i is None or model.id in seen:
                continue
            seen.add(model.id)
            lines.append(f'"{model.id}": {{input: {i:g}, output: {o or 0:g}}}  # {provider.id}')
    OUT.write_text("\n".join(lines) + "\n")
    print(f"{len(seen)} models -> {OUT}")


if __name__ == "__main__":
    main()
