"""Where the shared evaluation corpora live (read in place, never copied into the repo)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

# tests/detect/corpora.py -> repo root is parents[2]; the corpora are in its sibling shared/.
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def path(relative: str) -> Path:
    p = DATA / relative
    if not p.exists():
        pytest.skip(f"corpus {relative} not found under {DATA.resolve()} (shared/data beside the repo)")
    return p


def load_json(relative: str) -> Any:
    return json.loads(path(relative).read_text(encoding="utf-8"))


def load_csv(relative: str) -> list[dict[str, str]]:
    with path(relative).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_jsonl(relative: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path(relative).read_text(encoding="utf-8").splitlines() if line]
