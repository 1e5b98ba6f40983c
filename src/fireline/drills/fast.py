"""A self-contained drill range: Fireline, the scriptable upstream and a drill app, on loopback.

Used by the test suite's fast drills and by bench/drill.py; `fireline drill` itself runs against
a Fireline that is already running.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireline.config import Config
from fireline.db import Database

DRILL_APP = "drill"
DRILL_CONFIG: dict[str, Any] = {
    "apps": {DRILL_APP: {
        "fallback": "The assistant is paused for a drill.",
        "models": ["drill-model", "drill-model-prev", "drill-model-old"],
        "prompts": {"v13": "You are the drill assistant (v13).", "v12": "You are the drill assistant (v12)."},
        "tools": {"issue_refund": "write", "lookup_order": "read"},
    }},
    "detectors": {"tool_policy": {"forbid_write": [DRILL_APP]}},
    "pricing": {"drill-model": {"input": 2.5, "output": 10.0}},
    # Drills measure the whole loop, so every P0/P1 type is contained the moment it opens.
    "auto_contain": {t: ["P0", "P1"] for t in ("data_leakage", "harmful_output", "prompt_injection",
                                               "agentic_harm", "hallucination", "cost_runaway",
                                               "capability_loss")},
}


@dataclass
class Range:
    url: str
    admin_key: str
    upstream: Any


@contextmanager
def drill_range(db: Database, config: dict[str, Any] | None = None) -> Iterator[Range]:
    from fireline.api import create_app
    from fireline.auth import service as keys
    from fireline.serving import ServerThread
    from fireline.simulator.upstream import UpstreamServer

    upstream = UpstreamServer(port=0).start()
    cfg = Config.model_validate(config or DRILL_CONFIG)
    data_dir = Path(tempfile.mkdtemp(prefix="fl-drill-"))  # the range's own spool and key epoch
    app = create_app(db, cfg, data_dir=data_dir)
    app.state.upstream_url = upstream.url + "/v1"
    server = ServerThread(app).start()
    try:
        with db.writing() as session:
            _, key = keys.create_key(session, "admin", f"drill-{secrets.token_hex(3)}")
        yield Range(url=server.url, admin_key=key, upstream=upstream)
    finally:
        server.stop()
        upstream.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
