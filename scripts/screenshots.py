"""Regenerate the console screenshots under docs/screenshots/ from a real running demo.

    make screenshots            # starts `fireline demo --history 36`, shoots, stops it
    python scripts/screenshots.py --url http://127.0.0.1:8700 --key <admin key> [--incident INC-...]

Headless Debian Chromium through Playwright (never a downloaded browser). Fails on any console error.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def start_demo(workdir: Path, port: int, history: float) -> tuple[subprocess.Popen[str], str, str]:
    fireline = str(Path(sys.executable).with_name("fireline"))
    proc = subprocess.Popen([fireline, "demo", "--port", str(port), "--history", str(history), "--warmup", "4",
                             "--dir", str(workdir / "demo-out")], cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**_env(), "COLUMNS": "200"})
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            print("  demo |", line.rstrip())
            if "admin key:" in line:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(240):
        proc.kill()
        raise SystemExit("the demo did not come up")
    text = "".join(lines)
    key = re.search(r"admin key: (\S+)", text)
    inc = re.search(r"incident (INC-[0-9A-Z]+) opened", text)
    assert key and inc, text
    return proc, key.group(1), inc.group(1)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}


def shoot(url: str, key: str, incident: str, out: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        call = http.get("/api/v1/calls", params={"finding": "canary_leak", "limit": 1}).json()["calls"]
        drill = run_drill(http)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.fill("#key", key)
        page.click("#login-form button")
        page.wait_for_selector("body[data-ready=incidents] #incidents")
        shots = [("incidents", "#/incidents", "#incidents", False),
                 ("incident", f"#/incidents/{incident}", "#timeline", True),
                 ("monitors", "#/monitors?hours=24", ".monitor .uplot", False),
                 ("calls", "#/calls?app=support-bot", "#calls", False),
                 ("controls", "#/controls?all=true", "#apply-form", False)]
        if call:
            shots.append(("call", f"#/call/{call[0]['id']}", "#content", False))
        shots.append(("drills", f"#/drills/{drill}", f"section.drill[data-id='{drill}'] details", True))
        for name, hash_, ready, full in shots:
            page.goto(f"{url}/{hash_}")
            page.wait_for_selector(ready)
            page.wait_for_timeout(600)  # charts draw on the next frame
            page.screenshot(path=str(out / f"{name}.png"), full_page=full)
            print(f"wrote {out / (name + '.png')}")
        browser.close()
    return errors


def run_drill(http: httpx.Client, scenario: str = "data_leak", timeout: float = 180.0) -> str:
    """Run a shipped drill on the demo server and wait for its report (the drills page shows it)."""
    r = http.post("/api/v1/drills", json={"scenario": scenario, "auto_ack": True, "contain": True})
    r.raise_for_status()
    drill_id = str(r.json()["id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/v1/drills/{drill_id}").json()
        if job["state"] != "running":
            if job["state"] == "failed":
                raise SystemExit(f"drill {drill_id} ended {job['state']}: {job.get('error')}")
            print(f"drill {drill_id} {job['state']}")
            return drill_id
        time.sleep(1.0)
    raise SystemExit(f"drill {drill_id} did not finish in {timeout:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url")
    ap.add_argument("--key")
    ap.add_argument("--incident")
    ap.add_argument("--history", type=float, default=36.0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    proc = None
    if args.url:
        url, key, incident = args.url, args.key, args.incident
    else:
        from fireline.serving import free_port

        port = free_port()
        proc, key, incident = start_demo(Path(tempfile.mkdtemp(prefix="fireline-shots-")), port, args.history)
        url = f"http://127.0.0.1:{port}"
        time.sleep(1.0)
    try:
        errors = shoot(url, key, incident, args.out)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
    if errors:
        raise SystemExit("console errors:\n" + "\n".join(errors))


if __name__ == "__main__":
    main()
