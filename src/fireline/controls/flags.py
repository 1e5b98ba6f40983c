"""Feature flags derived from the control state, shared by OFREP and the OpenFeature provider.

Keys (docs/openfeature.md): fireline.<app>.enabled, fireline.<app>.model,
fireline.<app>.prompt_version, fireline.<app>.read_only, fireline.<app>.tool.<name>.enabled.
Context: targetingKey (the user), tenant, and optionally model and cohort.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fireline.controls.state import Control, ControlState

_TOOL = re.compile(r"^fireline\.(?P<app>.+)\.tool\.(?P<tool>[^.]+)\.enabled$")
_APP = re.compile(r"^fireline\.(?P<app>.+)\.(?P<flag>enabled|model|prompt_version|read_only)$")


class FlagError(Exception):
    def __init__(self, code: str, details: str, status: int = 400) -> None:
        super().__init__(details)
        self.code, self.details, self.status = code, details, status


def context_fields(context: Any) -> dict[str, str | None]:
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        raise FlagError("INVALID_CONTEXT", "context must be a JSON object")
    out: dict[str, str | None] = {}
    for name, key in (("user", "targetingKey"), ("tenant", "tenant"), ("model", "model"), ("cohort", "cohort"),
                      ("session", "session")):
        value = context.get(key)
        if value is not None and not isinstance(value, str | int):
            raise FlagError("INVALID_CONTEXT", f"context.{key} must be a string")
        out[name] = str(value) if value is not None else None
    app = context.get("app")
    out["app"] = str(app) if isinstance(app, str) else None
    return out


def known_apps(state: ControlState) -> list[str]:
    apps = set(state.apps)
    apps.update(c.scope["app"] for c in state.controls if "app" in c.scope)
    return sorted(apps)


def _result(key: str, value: Any, control: Control | None, revision: int, variant: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"revision": revision}
    if control is not None:
        metadata["controlId"] = control.id
        metadata["controlKind"] = control.kind
        if control.incident_id:
            metadata["incidentId"] = control.incident_id
    return {"key": key, "value": value, "reason": "TARGETING_MATCH" if control else "DEFAULT",
            "variant": variant, "metadata": metadata}


def evaluate(state: ControlState, key: str, context: Any) -> dict[str, Any]:
    """One flag as an OFREP success body; FlagError otherwise."""
    ctx = context_fields(context)
    match = _TOOL.match(key) or _APP.match(key)
    if match is None:
        raise FlagError("FLAG_NOT_FOUND", f"unknown flag {key}; see docs/openfeature.md for the keys", 404)
    app = match.group("app")
    enf = state.for_request(app=app, user=ctx["user"], tenant=ctx["tenant"], model=ctx["model"],
                            cohort=ctx["cohort"], session=ctx["session"])
    cfg = state.app_config(app)
    groups = match.groupdict()
    rev = state.revision
    if "tool" in groups and groups.get("tool"):
        tool = groups["tool"]
        ctl = enf.disabled_tools.get(tool)
        return _result(key, ctl is None, ctl, rev, "disabled" if ctl else "enabled")
    flag = groups["flag"]
    if flag == "enabled":
        return _result(key, enf.kill is None, enf.kill, rev, "killed" if enf.kill else "enabled")
    if flag == "read_only":
        return _result(key, enf.read_only is not None, enf.read_only, rev,
                       "read_only" if enf.read_only else "read_write")
    if flag == "model":
        if enf.model is not None:
            return _result(key, enf.model[1], enf.model[0], rev, "pinned")
        if not cfg.models:
            raise FlagError("FLAG_NOT_FOUND", f"app {app} has no model registry in the config", 404)
        return _result(key, cfg.models[0], None, rev, "current")
    if enf.prompt is not None:
        return _result(key, enf.prompt[1], enf.prompt[0], rev, "pinned")
    if not cfg.prompts:
        raise FlagError("FLAG_NOT_FOUND", f"app {app} has no prompt registry in the config", 404)
    return _result(key, next(iter(cfg.prompts)), None, rev, "current")


def all_keys(state: ControlState, app: str | None = None) -> list[str]:
    keys: list[str] = []
    for name in known_apps(state):
        if app is not None and name != app:
            continue
        cfg = state.app_config(name)
        keys += [f"fireline.{name}.enabled", f"fireline.{name}.read_only"]
        if cfg.models:
            keys.append(f"fireline.{name}.model")
        if cfg.prompts:
            keys.append(f"fireline.{name}.prompt_version")
        tools = set(cfg.tools)
        tools.update(c.scope["tool"] for c in state.controls
                     if c.kind == "disable_tool" and c.scope.get("app") in (None, name) and "tool" in c.scope)
        keys += [f"fireline.{name}.tool.{t}.enabled" for t in sorted(tools)]
    return keys


def evaluate_all(state: ControlState, context: Any) -> list[dict[str, Any]]:
    ctx = context_fields(context)
    out: list[dict[str, Any]] = []
    for key in all_keys(state, ctx["app"]):
        try:
            out.append(evaluate(state, key, context))
        except FlagError as exc:
            out.append({"key": key, "errorCode": exc.code, "errorDetails": exc.details})
    return out
