"""Detector tests share the privacy pass's word lists, loaded once before any timed example."""

from __future__ import annotations

import pytest

from fireline.pii import gazetteer


@pytest.fixture(autouse=True, scope="session")
def _word_lists_loaded() -> None:
    # The first scan reads data/gazetteer.txt.gz (~0.2 s); Hypothesis would take that for a slow example.
    gazetteer.get()
