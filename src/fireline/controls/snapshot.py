"""The control state the gateway enforces, kept on local disk, so that a server restarted while the
database is away still enforces the containment it enforced before (a kill switch, a block, a
disabled tool), instead of starting with none.

`<data dir>/controls.snapshot` is replaced whole (fireline.localstate) whenever this process's
control state changes, and read only when a server starts without its database. It holds what
enforcement needs and no more: per active control its id, kind, scope, params, incident, times and
revision; not the actor nor the reason. A user scope is kept as the controls table holds it (the
keyed pseudonym and the salted match digest, never a raw user id); a control whose `scope.user`
is in no such form is left out. The controls themselves are sealed with the raw-content key
(AES-GCM, as the gateway spool is): params can hold text (a block pattern, a drill's scripted
answer). Only the version and the revision are in the clear. Processes sharing the directory (workers)
each write their own state: the last write wins, and one that wrote an older state writes the
newer one when its poll (1 s) refreshes to it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag

from fireline import localstate
from fireline.calls import privacy
from fireline.config import AppConfig
from fireline.controls.state import Control, ControlState
from fireline.controls.users import ERASED, MATCH, PSEUDONYM

log = logging.getLogger("fireline.controls")

NAME = "controls.snapshot"
LABEL = "controls-snapshot"
VERSION = 1


def path_in(data_dir: Path) -> Path:
    return Path(data_dir) / NAME


def _storable(control: Control) -> bool:
    scope = control.scope
    if "user" in scope and not (scope["user"] == ERASED or PSEUDONYM.fullmatch(scope["user"])):
        return False  # a scope stored before user ids were pseudonymised: never a raw id on disk
    return "user_match" not in scope or bool(MATCH.fullmatch(scope["user_match"]))


def _entry(control: Control) -> dict[str, Any]:
    data = control.to_json()
    data.pop("actor", None)
    data.pop("reason", None)
    return data


def save(data_dir: Path, state: ControlState) -> None:
    """Replace the snapshot with `state` (OSError when the disk refuses)."""
    path = path_in(data_dir)
    controls = [c for c in state.active_at() if _storable(c)]
    left_out = len(state.active_at()) - len(controls)
    if left_out:
        log.warning("controls snapshot: %d controls with a user scope not in pseudonym form left out", left_out)
    sealed = privacy.seal(orjson.dumps({"controls": [_entry(c) for c in controls]}), LABEL)
    envelope = orjson.dumps({"version": VERSION, "revision": state.revision,
                             "sealed": base64.b64encode(sealed).decode()})
    localstate.write_atomic(path, envelope)


def saver(data_dir: Path) -> Any:
    """The ControlBook listener that keeps the snapshot: a failure (a disk that refuses) is logged,
    never raised, so it cannot stop the refresh (enforcement goes on from memory)."""

    def on_state(state: ControlState) -> None:
        try:
            save(data_dir, state)
        except Exception as exc:
            log.error("controls snapshot: could not write %s: %s", path_in(data_dir), type(exc).__name__)

    return on_state


def load(data_dir: Path, apps: Mapping[str, AppConfig]) -> ControlState | None:
    """The last control state written here, None (and a warning saying why) when there is none or it
    cannot be read: the server then serves with no controls."""
    path = path_in(data_dir)
    try:
        raw = localstate.read(path)
    except OSError as exc:
        raw, reason = None, f"it cannot be read ({type(exc).__name__})"
    else:
        reason = "there is none"
    state = None
    if raw is not None:
        try:
            envelope = orjson.loads(raw)
            if envelope.get("version") != VERSION:
                raise ValueError(f"version {envelope.get('version')!r}")
            body = orjson.loads(privacy.unseal(base64.b64decode(envelope["sealed"], validate=True), LABEL))
            controls = [Control.from_json({**c, "actor": "", "reason": None}) for c in body["controls"]]
            state = ControlState(int(envelope["revision"]), controls, apps, user_salt=privacy.match_salt(),
                                 pseudonymize=privacy.pseudonym)
        except (InvalidTag, binascii.Error):
            reason = "it was sealed with another key (FIRELINE_SECRET)"
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"it is damaged ({type(exc).__name__})"
    if state is None:
        log.warning("the database is unavailable and no usable controls snapshot is at %s (%s): serving with "
                    "NO containment controls until the database is back", path, reason)
        return None
    log.warning("the database is unavailable: enforcing the %d controls of revision %d from %s until it is back",
                len(state.controls), state.revision, path)
    return state
