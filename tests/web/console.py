"""The console tests' browser page: signed in with a key of one role, collecting console errors. The
fixtures (the demo, one per test module; Chromium; an admin page) are in conftest.py."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.support.demo import Demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# the first test also starts the shared demo (seconds alone, minutes on a loaded machine)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
              pytest.mark.timeout(400)]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


class Console:
    """A page signed in with a key of one role, collecting console errors."""

    def __init__(self, browser: Any, demo: Demo, role: str) -> None:
        self.demo = demo
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(demo.url + "/")
        self.page.fill("#key", demo.keys[role])
        self.page.click("#login-form button")
        self.page.wait_for_selector("body[data-ready]")

    def open(self, hash_: str, ready: str) -> Any:
        self.page.evaluate("document.body.removeAttribute('data-ready')")
        self.page.goto(f"{self.demo.url}/{hash_}")
        self.page.wait_for_selector("body[data-ready]")
        return self.page.wait_for_selector(ready)

    def confirm(self, **fields: str) -> None:
        dlg = self.page.wait_for_selector("dialog.modal[open]")
        for name, value in fields.items():
            box = dlg.query_selector(f"[name={name}]")
            if box.evaluate("e => e.tagName") == "SELECT":
                box.select_option(value)
            else:
                box.fill(value)
        dlg.query_selector("[data-role=confirm]").click()
        self.page.wait_for_selector("dialog.modal", state="detached")

    def settled(self) -> None:
        """After an action: the page re-rendered."""
        self.page.wait_for_selector("body[data-ready]")

    def act(self, selector: str, dialog: dict[str, str] | None = None) -> None:
        """Click; fill and confirm the dialog it opens (when `dialog` is given); wait for the re-render."""
        self.page.evaluate("document.body.removeAttribute('data-ready')")
        self.page.click(selector)
        if dialog is not None:
            self.confirm(**dialog)
        self.settled()

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"console errors: {self.errors}"
