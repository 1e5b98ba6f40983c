"""`fireline demo --exit` tells the whole story and exits 0 only when the leak was contained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fireline.serving import free_port


def test_demo_detects_and_contains_the_leak(tmp_path: Path) -> None:
    fireline = str(Path(sys.executable).with_name("fireline"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run([fireline, "demo", "--exit", "--warmup", "2", "--port", str(free_port())],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for step in ("normal traffic", "detector fired", "canary:canary_leak", "opened: type data_leakage",
                 "evidence snapshot", "kill switch applied", "answered by the fallback", "blast radius",
                 "first leaked answer -> contained", "public update posted", "GDPR Art. 33"):
        assert step in out, f"missing {step!r} in:\n{out}"
    assert "Traceback" not in out
    assert (tmp_path / "demo-out" / "fireline.db").exists()
