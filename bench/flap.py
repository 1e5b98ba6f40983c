"""What a flapping ratio monitor produces, through the real app (tests/detect/flapping.py):
fire/resolve transitions, alert history rows, incidents, timeline entries, pages and messages.

    PYTHONPATH=src python bench/flap.py [--minutes 90] [--follow]

`--follow`: a responder resolves the incident whenever the alert resolves (as a PagerDuty
service fed by the monitor's recoveries would). Runs on a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.detect.flapping import run  # noqa: E402

from fireline import config as fl_config  # noqa: E402
from fireline.calls import privacy  # noqa: E402
from fireline.db import Database, upgrade  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=90, help="fake minutes of flapping before the calm")
    ap.add_argument("--follow", action="store_true", help="resolve the incident whenever the alert resolves")
    ap.add_argument("--recovery", type=float, help="the monitor's recovery threshold (a ratio; the condition is 3)")
    ap.add_argument("--recover-after", help="the monitor's recover_after (default 15m; 0: at once)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fl_config.reset()
        privacy.reset_keys()
        db = Database(f"sqlite:///{tmp}/fireline.db")
        upgrade(db.engine)
        try:
            extra = {k: v for k, v in (("recovery", args.recovery), ("recover_after", args.recover_after))
                     if v is not None}
            out = run(db, args.minutes, follow=args.follow, extra_monitor=extra)
        finally:
            db.dispose()
    print(json.dumps({"minutes": args.minutes, "follow": args.follow, "recovery": args.recovery,
                      "recover_after": args.recover_after, **out.as_dict()}))


if __name__ == "__main__":
    main()
