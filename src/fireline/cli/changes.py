"""`fireline change` (record a deploy / change marker) and `fireline changes` (list), via the API."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from fireline.cli import tables
from fireline.cli.client import WHEN_HELP, Api, fail, time_param
from fireline.cli.tables import Col

out = Console()
KINDS = ("model", "prompt", "config", "guardrail", "retrieval_index", "code")


def change(kind: str = typer.Option(..., "--kind", help="model|prompt|config|guardrail|retrieval_index|code"),
           app: str = typer.Option(..., "--app"),
           from_: str | None = typer.Option(None, "--from", help="the version before"),
           to: str | None = typer.Option(None, "--to", help="the version after"),
           actor: str | None = typer.Option(None, help="who made the change (default: the API key id)"),
           at: str | None = typer.Option(None, help="ISO 8601 time of the change (default: now)"),
           description: str | None = typer.Option(None, "--description", "-m"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Record a deploy / change marker (kept for incident timelines and change correlation)."""
    if kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    body = {k: v for k, v in {"kind": kind, "app": app, "from": from_, "to": to, "actor": actor, "at": at,
                              "description": description}.items() if v is not None}
    got = Api().post("/api/v1/changes", json=body)
    if as_json:
        out.print_json(json.dumps(got))
        return
    out.print(f"recorded {got['id']}: {got['kind']} of {got['app']} {got['from'] or '?'} -> {got['to'] or '?'} "
              f"at {got['at']} by {got['actor']}", highlight=False, soft_wrap=True)


def changes(app: str | None = None, kind: str | None = None,
            since: str | None = typer.Option(None, help=WHEN_HELP),
            until: str | None = typer.Option(None, help=WHEN_HELP),
            limit: int = 50, wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """List change markers, newest first."""
    params = {k: v for k, v in dict(app=app, kind=kind, since=time_param(since, "--since"),
                                     until=time_param(until, "--until"), limit=limit).items()
              if v is not None}
    page = Api().get("/api/v1/changes", params=params)
    if as_json:
        out.print_json(json.dumps(page))
        return
    tables.show(page["changes"], [
        Col("id", lambda c: c["id"], id=True),
        Col("at", lambda c: tables.when(c["at"])),
        Col("app", lambda c: c["app"], wide=True),
        Col("kind", lambda c: c["kind"], max_width=10),
        Col("from", lambda c: c["from"], wide=True),
        Col("to", lambda c: c["to"], max_width=14),
        Col("actor", lambda c: c["actor"], max_width=12),
        Col("description", lambda c: c["description"], wide=True, grow=True),
    ], wide=wide, empty="no change marker")
