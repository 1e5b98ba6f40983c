"""Fire drills end to end: time from the first harmful answer to detection and to containment.

Each shipped scenario runs against a fresh Fireline (embedded SQLite) with the scriptable
upstream, auto-containment on for P0/P1 types (DRILL_CONFIG). Target: detection within 5 s and
containment in force within 10 s of the first harmful call for P0 and P1 scenarios.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from fireline.db import Database
from fireline.drills.fast import DRILL_APP, drill_range
from fireline.drills.runner import Drill
from fireline.drills.scenario import builtin_names, load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", action="append", help="repeatable; default: all shipped")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    logging.getLogger("fireline").setLevel(logging.ERROR)
    rows = []
    for name in args.scenario or builtin_names():
        for _ in range(args.runs):
            db = Database(f"sqlite:///{tempfile.mkdtemp(prefix='fireline-drill-')}/fireline.db")
            with drill_range(db) as rng:
                # auto_ack: the drill plays the on-call who acknowledges; containment is left to
                # auto-containment, and the playbook is applied by hand only where none acted.
                result = Drill(load(name), url=rng.url, token=rng.admin_key, app=DRILL_APP, auto_ack=True,
                               contain=True, timeout=20).run()
            db.dispose()
            sev = (result.incident or {}).get("severity", "-")
            rows.append((name, sev, result))
    print(f"{'scenario':16s} {'sev':4s} {'detect s':>9s} {'ack s':>7s} {'contain s':>10s} {'verify s':>9s}  auto  gaps")

    def fmt(v: float | None) -> str:
        return f"{v:.2f}" if v is not None else "-"

    met = True
    for name, sev, r in rows:
        print(f"{name:16s} {sev:4s} {fmt(r.time_to_detect):>9s} {fmt(r.time_to_acknowledge):>7s} "
              f"{fmt(r.time_to_contain):>10s} {fmt(r.time_to_verify):>9s}  {'yes' if r.auto_contained else 'no ':3s}  "
              f"{'; '.join(r.gaps) or '-'}")
        if sev in ("P0", "P1"):
            met &= (r.time_to_detect or 99) <= 5 and (r.time_to_contain or 99) <= 10
    print("target (P0/P1): detect <= 5 s, contain <= 10 s: " + ("met" if met else "NOT met"))
    print("RESULT " + " ".join(f"{n}_{k}={v:.3f}" for n, _, r in rows
                              for k, v in (("detect_s", r.time_to_detect), ("contain_s", r.time_to_contain))
                              if v is not None))


if __name__ == "__main__":
    Path(".").resolve()
    main()
