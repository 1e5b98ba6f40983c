"""Console test fixtures: the demo running for real (one per test module), headless Chromium, an admin page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.demo import Demo, running_demo
from tests.web.console import ARGS, CHROMIUM, Console


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo"), history_hours=6) as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def admin(browser: Any, demo: Demo) -> Iterator[Console]:
    c = Console(browser, demo, "admin")
    yield c
    c.close()
