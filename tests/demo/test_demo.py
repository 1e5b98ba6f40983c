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


def test_demo_output_and_database_agree(tmp_path: Path) -> None:
    """One incident; its blast radius equals the leaked answers the app received and the leaked
    answers counted straight from the database; the demo prints those same numbers."""
    import re
    import sqlite3

    fireline = str(Path(sys.executable).with_name("fireline"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env["COLUMNS"] = "300"
    proc = subprocess.run([fireline, "demo", "--exit", "--warmup", "2", "--port", str(free_port())],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    said = re.search(r"(\d+) incident for the leak .*?blast radius (\d+) calls, (\d+) users, (\d+) tenants, "
                     r"(\d+) answered after containment", out)
    assert said, out
    incidents, blast_calls, users, tenants, after = (int(x) for x in said.groups())
    leaked = int(re.search(r"(\d+) leaked answers,", out).group(1))  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "demo-out" / "fireline.db") as db:
        (n_incidents,) = db.execute("SELECT count(*) FROM incidents").fetchone()
        leaks = db.execute(
            "SELECT c.user_pseudonym, c.tenant, c.started_at FROM calls c WHERE c.tenant <> 'globex' AND c.id IN "
            "(SELECT call_id FROM call_findings WHERE detector = 'canary' AND kind = 'canary_leak')").fetchall()
        (contained_at,) = db.execute("SELECT contained_at FROM incidents").fetchone()
    assert incidents == n_incidents == 1
    assert blast_calls == leaked == len(leaks) > 0
    assert users == len({u for u, _, _ in leaks}) and tenants == len({t for _, t, _ in leaks})
    assert after == sum(1 for _, _, at in leaks if at >= contained_at) == 0
