"""How an incident's scope grows under a long-firing monitor: a leak monitor's group firing for
`--users` distinct users and sessions, 100 new calls an alert (the monitor's MAX_LINKED), each alert
naming its calls' sessions and user pseudonyms. Prints the scope's JSON size and the time of the
last alerts (incidents.service.on_alert_fired, one transaction each) on a fresh SQLite file.

    PYTHONPATH=src python bench/scope_growth.py [--users 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.incidents.helpers import alert, finding, store_calls  # noqa: E402

from fireline import config as fl_config  # noqa: E402
from fireline.calls import privacy  # noqa: E402
from fireline.db import Database, upgrade, utcnow  # noqa: E402
from fireline.incidents import service  # noqa: E402
from fireline.incidents.models import Incident  # noqa: E402

KEY = "monitor:pii_secret_leak:app=support-bot"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=5000)
    args = ap.parse_args()
    per = 100
    with tempfile.TemporaryDirectory() as tmp:
        fl_config.reset()
        privacy.reset_keys()
        db = Database(f"sqlite:///{tmp}/fireline.db")
        upgrade(db.engine)
        ids = store_calls(db, [{"id": f"c-{i}", "minutes": i // 50, "user": f"u{i}@x.io", "session_id": f"s{i}",
                                "findings": [finding()]} for i in range(args.users)])
        times = []
        iid = None
        for i in range(0, args.users, per):
            details = {"group": "app=support-bot", "condition": "any", **({"update": True} if i else {})}
            a = alert(key=KEY, call_ids=tuple(ids[i:i + per]), at=utcnow(), details=details,
                      sessions=tuple(f"s{j}" for j in range(i, i + per)),
                      users=tuple(f"p{j}" for j in range(i, i + per)))
            t = time.perf_counter()
            iid = service.on_alert_fired(db, a) or iid
            times.append(time.perf_counter() - t)
        with db.session() as s:
            inc = s.get(Incident, iid)
            assert inc is not None
            scope = dict(inc.scope)
        db.dispose()
    last = times[-5:]
    print(json.dumps({"users": args.users, "alerts": len(times), "scope_bytes": len(json.dumps(scope)),
                      "sessions_listed": len(scope.get("sessions", [])),
                      "sessions_counted": (scope.get("counts") or {}).get("sessions"),
                      "first5_ms": round(1000 * sum(times[:5]) / 5, 2), "last5_ms": round(1000 * sum(last) / 5, 2)}))


if __name__ == "__main__":
    main()
