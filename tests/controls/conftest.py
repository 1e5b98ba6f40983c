"""A running Fireline with an app registry, for the control-plane tests (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireline.config import Config
from fireline.db import Database
from tests.support.fireline import Fireline, running

APPS: dict[str, Any] = {
    "bot": {"fallback": "The assistant is paused.",
            "models": ["gpt-4o-2024-08-06", "gpt-4o-2024-05-13", "gpt-4o-mini"],
            "prompts": {"v12": "You are helpful.", "v11": "You were helpful."},
            "tools": {"issue_refund": "write", "lookup_order": "read", "cancel_order": "write"}},
    "strict": {"fail_closed": True, "models": ["m1"]},
}


def make_config(**sections: Any) -> Config:
    base: dict[str, Any] = {"apps": APPS,
                            "controls": {"expiry_interval_s": 0.1, "poll_interval_s": 0.2, "keepalive_s": 0.5,
                                         "stream_max_s": 1.0}}
    base.update(sections)
    return Config.model_validate(base)


@pytest.fixture
def fl(db: Database) -> Iterator[Fireline]:
    with running(db, make_config()) as server:
        yield server
