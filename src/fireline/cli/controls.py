"""`fireline contain INC [--all]` and `fireline controls list|apply|revert`, through the HTTP API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console

from fireline.cli import tables
from fireline.cli.client import Api, fail
from fireline.cli.tables import Col
from fireline.durations import parse_duration

out = Console()
controls_app = typer.Typer(help="Containment controls: list, apply, revert (via the API).", no_args_is_help=True)


def _scope(c: dict[str, Any]) -> str:
    # user_match is the SDKs' matching digest of scope.user (the pseudonym shown): not for people
    return " ".join(f"{k}={v}" for k, v in c["scope"].items() if k != "user_match") or "global"


def _state(c: dict[str, Any]) -> str:
    return "active" if c["active"] else "reverted" if c["reverted_by"] else "expired"


CONTROL_COLUMNS = [
    Col("id", lambda c: c["id"], id=True),
    Col("kind", lambda c: c["kind"], max_width=19),
    Col("scope", _scope, grow=True),
    Col("params", lambda c: {k: v for k, v in c["params"].items() if k != "output"}, wide=True, max_width=40),
    Col("incident", lambda c: c["incident_id"], wide=True),
    Col("actor", lambda c: c["actor"], wide=True),
    Col("rev", lambda c: c["revision"], wide=True),
    Col("expires", lambda c: tables.when(c["expires_at"]), wide=True),
    Col("state", _state, max_width=8),
    Col("reverted by", lambda c: c["reverted_by"], wide=True),
]


def contain(incident_id: str,
            all_actions: bool = typer.Option(False, "--all", help="the secondary actions too"),
            wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Apply the incident's playbook: the primary action (with --all, the secondaries too)."""
    result = Api().post(f"/api/v1/incidents/{incident_id}/playbook", json={"all": all_actions})
    if as_json:
        out.print_json(json.dumps(result))
        return
    tables.show(result["controls"], CONTROL_COLUMNS, wide=wide)
    out.print(f"{incident_id}: {len(result['controls'])} control(s) in force at revision {result['revision']}")


@controls_app.command("list")
def list_(show_all: bool = typer.Option(False, "--all", help="include reverted and expired controls"),
          incident: str | None = typer.Option(None, "--incident"), app: str | None = None,
          kind: str | None = None, wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Controls in force (with --all, reverted and expired ones too)."""
    params = {k: v for k, v in {"all": str(show_all).lower(), "incident_id": incident, "app": app,
                                "kind": kind}.items() if v is not None}
    result = Api().get("/api/v1/controls", params=params)
    if as_json:
        out.print_json(json.dumps(result))
        return
    tables.show(result["controls"], CONTROL_COLUMNS, wide=wide, empty="no control in force")
    out.print(f"revision {result['revision']}")


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@controls_app.command("apply")
def apply(kind: str = typer.Argument(..., help="kill_switch, model_pin, prompt_pin, disable_tool, read_only, "
                                               "rate_limit, guardrail_threshold, block_pattern, inject, budget"),
          app: str | None = None, tenant: str | None = None, user: str | None = None,
          model: str | None = typer.Option(None, help="scope: requests for this model"),
          tool: str | None = None, cohort: str | None = None,
          everywhere: bool = typer.Option(False, "--global", help="no scope: every app (needs --reason)"),
          param: list[str] = typer.Option([], "--param", "-p", help="KEY=VALUE (VALUE as JSON when it parses)"),
          incident: str | None = typer.Option(None, "--incident"), reason: str | None = None,
          duration: str | None = typer.Option(None, "--for", help="expire after e.g. 30m, 2h, 1d"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Apply one control to a scope.

    For example `fireline controls apply model_pin --app bot -p model=gpt-4o-2024-05-13`."""
    scope = {k: v for k, v in {"app": app, "tenant": tenant, "user": user, "model": model, "tool": tool,
                               "cohort": cohort}.items() if v is not None}
    if everywhere:
        if not (reason or "").strip():
            fail("--global: a control on every app needs --reason")
        scope["global"] = "true"
    params: dict[str, Any] = {}
    for item in param:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--param {item!r}: use KEY=VALUE")
        params[key] = _value(raw)
    body: dict[str, Any] = {"kind": kind, "scope": scope, "params": params, "incident_id": incident,
                            "reason": reason}
    if duration:
        try:
            delta = parse_duration(duration)
        except ValueError as e:
            fail(f"--for: {e}")
        body["expires_at"] = (datetime.now(UTC) + delta).isoformat()
    result = Api().post("/api/v1/controls", json=body)
    if as_json:
        out.print_json(json.dumps(result))
        return
    verb = "already in force:" if result.get("existing") else "applied"
    out.print(f"{verb} {result['kind']} {result['id']} at revision {result['revision']}")


@controls_app.command("revert")
def revert(control_id: str, reason: str | None = None) -> None:
    """Revert a control: the behaviour before it comes back on the next request."""
    result = Api().delete(f"/api/v1/controls/{control_id}", params={"reason": reason} if reason else {})
    out.print(f"reverted {result['kind']} {result['id']} at revision {result['revision']}")
