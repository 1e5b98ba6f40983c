"""The local controls snapshot a server enforces when it starts while the database is away: what
it keeps (enough to contain), what it never holds (content, raw identity), and what it does when
it cannot be used (serve with no controls, saying so)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline import config as fl_config
from fireline.calls import privacy
from fireline.config import AppConfig
from fireline.controls import snapshot
from fireline.controls.identity import user_scope
from fireline.controls.state import Control, ControlState

APPS = {"support-bot": AppConfig(fallback="Paused.", tools={"issue_refund": "write"})}
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)


def control(cid: str, kind: str, scope: dict[str, str], params: dict[str, object] | None = None,
            expires_at: datetime | None = None) -> Control:
    return Control(id=cid, kind=kind, scope=scope, params=params or {}, incident_id="INC-7",
                   actor="key_responder1", reason="alice@example.com reported the leak", created_at=NOW,
                   expires_at=expires_at, revision=int(cid[-1]))


def test_the_snapshot_restores_what_the_gateway_enforces_and_holds_no_content_or_raw_identity(
        tmp_path: Path) -> None:
    state = ControlState(9, [
        control("ctl_1", "kill_switch", {"app": "support-bot"}, {"message": "We paused the assistant."}),
        control("ctl_2", "block_pattern", {"app": "other-bot"}, {"pattern": r"alice@example\.com", "on": "input"}),
        control("ctl_3", "disable_tool", {"app": "other-bot", "tool": "issue_refund", **user_scope("bob@corp.test")}),
        control("ctl_4", "read_only", {"app": "other-bot", "user": "carol@corp.test"}),  # a raw id from old rows
        control("ctl_5", "kill_switch", {"app": "gone-bot"}, expires_at=datetime.now(UTC) - timedelta(minutes=1)),
    ], APPS, user_salt=privacy.match_salt(), pseudonymize=privacy.pseudonym)
    snapshot.save(tmp_path, state)

    raw = snapshot.path_in(tmp_path).read_bytes()
    for clear in (b"alice", b"example", b"bob@", b"carol", b"corp.test", b"We paused", b"key_responder1",
                  b"reported", b"kill_switch"):
        assert clear not in raw, clear
    assert snapshot.path_in(tmp_path).stat().st_mode & 0o077 == 0

    restored = snapshot.load(tmp_path, APPS)
    assert restored is not None and restored.revision == 9
    assert sorted(c.id for c in restored.controls) == ["ctl_1", "ctl_2", "ctl_3"]  # not the raw id, not expired
    killed = restored.for_request(app="support-bot", user="anyone")
    assert killed.kill is not None and killed.fallback_message == "We paused the assistant."
    other = restored.for_request(app="other-bot", user="bob@corp.test")
    assert [c.id for c, _, _ in other.block_patterns] == ["ctl_2"] and not other.tool_allowed("issue_refund")
    assert restored.for_request(app="other-bot", user="dave@corp.test").tool_allowed("issue_refund")
    assert all(c.reason is None and c.actor == "" for c in restored.controls)


def test_without_a_usable_snapshot_the_server_serves_with_no_controls_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING, "fireline.controls")
    assert snapshot.load(tmp_path, APPS) is None
    assert "NO containment controls" in caplog.text and "there is none" in caplog.text

    snapshot.save(tmp_path, ControlState(3, [control("ctl_1", "kill_switch", {"app": "support-bot"})], APPS))
    monkeypatch.setenv("FIRELINE_SECRET", "another-secret")  # a server started with another key
    fl_config.reset()
    privacy.reset_keys()
    try:
        caplog.clear()
        assert snapshot.load(tmp_path, APPS) is None
        assert "another key" in caplog.text
    finally:
        monkeypatch.undo()
        fl_config.reset()
        privacy.reset_keys()
    snapshot.path_in(tmp_path).write_bytes(b'{"version": 1, "revision": 3, "sealed": "!!"}')
    caplog.clear()
    assert snapshot.load(tmp_path, APPS) is None
    assert "damaged" in caplog.text or "another key" in caplog.text


def test_a_failed_write_leaves_the_previous_snapshot_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot.save(tmp_path, ControlState(3, [control("ctl_1", "kill_switch", {"app": "support-bot"})], APPS))
    before = snapshot.path_in(tmp_path).read_bytes()

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fireline.localstate.os.fsync", refuse)
    with pytest.raises(OSError):
        snapshot.save(tmp_path, ControlState(4, [], APPS))
    monkeypatch.undo()
    assert snapshot.path_in(tmp_path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [snapshot.NAME]  # no temporary file left behind


def _enforced(state: ControlState, app: str, user: str | None, tenant: str | None) -> tuple[object, ...]:
    e = state.for_request(app=app, user=user, tenant=tenant, model="gpt-4o-mini")
    return (e.kill.id if e.kill else None, e.fallback_message, e.model[1] if e.model else None,
            sorted(e.disabled_tools), [(c.id, on) for c, _, on in e.block_patterns],
            [c.id for c in e.rate_limits], e.read_only.id if e.read_only else None)


_scopes = st.fixed_dictionaries({}, optional={"app": st.sampled_from(["support-bot", "other-bot"]),
                                              "tenant": st.sampled_from(["acme", "beta"]),
                                              "user": st.sampled_from(["bob@corp.test", "eve@corp.test"])})
_controls = st.lists(st.tuples(
    st.sampled_from(["kill_switch", "model_pin", "disable_tool", "read_only", "rate_limit", "block_pattern"]),
    _scopes, st.text("abc xyz", max_size=12), st.booleans()), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=_controls, revision=st.integers(0, 2**40))
def test_any_control_state_is_enforced_the_same_after_a_snapshot(tmp_path: Path, specs: list[tuple[
        str, dict[str, str], str, bool]], revision: int) -> None:
    controls = []
    for i, (kind, scope, text, expires) in enumerate(specs):
        if "user" in scope:
            scope = {**{k: v for k, v in scope.items() if k != "user"}, **user_scope(scope["user"])}
        params: dict[str, object] = {"kill_switch": {"message": text} if text else {},
                                     "model_pin": {"model": "gpt-4o-2024-05-13"},
                                     "disable_tool": {"tool": "issue_refund"}, "read_only": {},
                                     "rate_limit": {"per_minute": 5},
                                     "block_pattern": {"pattern": text or "x", "on": "input"}}[kind]
        controls.append(Control(id=f"ctl_{i}", kind=kind, scope=scope, params=params, incident_id=None,
                                actor="key_1", reason=text or None, created_at=NOW,
                                expires_at=datetime.now(UTC) + timedelta(hours=1) if expires else None, revision=i))
    state = ControlState(revision, controls, APPS, user_salt=privacy.match_salt(), pseudonymize=privacy.pseudonym)
    snapshot.save(tmp_path, state)
    restored = snapshot.load(tmp_path, APPS)
    assert restored is not None and restored.revision == revision
    for app in ("support-bot", "other-bot"):
        for user in (None, "bob@corp.test", "eve@corp.test"):
            for tenant in (None, "acme", "beta"):
                assert _enforced(restored, app, user, tenant) == _enforced(state, app, user, tenant)
