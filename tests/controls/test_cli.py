"""`fireline controls list|apply|revert` and `fireline contain` against a running server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fireline import config
from fireline.db import Database
from tests.controls.conftest import make_config
from tests.support.cli import invoke as cli
from tests.support.fireline import Fireline, running


@pytest.fixture
def server(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fireline]:
    with running(sqlite_db, make_config()) as fl:
        monkeypatch.setenv("FIRELINE_URL", fl.url)
        config.reset()
        yield fl
        config.reset()




def test_apply_list_revert(server: Fireline) -> None:
    code, out = cli(server, "responder", "controls", "apply", "model_pin", "--app", "bot",
                    "-p", "model=gpt-4o-2024-05-13", "--for", "2h", "--reason", "rollback")
    assert code == 0 and "applied model_pin ctl_" in out, out
    control_id = out.split()[2]
    code, out = cli(server, "viewer", "controls", "list")
    assert code == 0 and control_id in out and "app=bot" in out and "revision 1" in out
    code, out = cli(server, "responder", "controls", "apply", "rate_limit", "--app", "bot", "-p", "per_minute=0")
    assert code == 1 and "422" in out and "params.per_minute" in out
    code, out = cli(server, "viewer", "controls", "revert", control_id)
    assert code == 1 and "403" in out
    code, out = cli(server, "responder", "controls", "revert", control_id, "--reason", "fixed")
    assert code == 0 and f"reverted model_pin {control_id} at revision 2" in out
    code, out = cli(server, "viewer", "controls", "list", "--all")
    assert code == 0 and control_id in out and "reverted" in out  # 80 columns: the state
    code, out = cli(server, "viewer", "controls", "list", "--all", "--wide")
    assert code == 0 and control_id in out and "reverted by" in out
    assert server.app.state.controls.current().for_request(app="bot").model is None


def test_contain_applies_the_playbook(server: Fireline) -> None:
    with server.client("responder") as c:
        inc = c.post("/api/v1/incidents", json={"title": "leak", "type": "data_leakage", "severity": "P1",
                                                "apps": ["bot"]}).json()
    code, out = cli(server, "responder", "contain", inc["id"])
    assert code == 0 and "kill_switch" in out and "1 control(s)" in out, out
    code, out = cli(server, "responder", "contain", inc["id"], "--all")
    assert code == 0 and "rate_limit" in out and "2 control(s)" in out
    code, out = cli(server, "responder", "contain", "INC-NOPE")
    assert code == 1 and "404" in out
