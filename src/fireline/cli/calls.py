"""`fireline calls search|show` and `fireline erase`, through the HTTP API."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli.client import Api

out = Console()
calls_app = typer.Typer(help="Search and read logged calls (via the API).", no_args_is_help=True)


@calls_app.command("search")
def search(app: str | None = None, model: str | None = None, tenant: str | None = None,
           user: str | None = typer.Option(None, help="raw user id; hashed the same way as at ingest"),
           session: str | None = None, status: str | None = None, prompt_version: str | None = None,
           text: str | None = typer.Option(None, "--text", "-q"), since: str | None = None,
           until: str | None = None, detector: str | None = None, limit: int = 20,
           as_json: bool = typer.Option(False, "--json")) -> None:
    params = {k: v for k, v in dict(app=app, model=model, tenant=tenant, user=user, session=session,
                                     status=status, prompt_version=prompt_version, q=text, since=since,
                                     until=until, detector=detector, limit=limit).items() if v is not None}
    page = Api().get("/api/v1/calls", params=params)
    if as_json:
        out.print_json(json.dumps(page))
        return
    table = Table("id", "started", "app", "tenant", "user", "model", "status", "findings", "output")
    for c in page["calls"]:
        table.add_row(c["id"], c["started_at"][:19], c["app"], c["tenant"] or "", (c["user_pseudonym"] or "")[:12],
                      c["model"] or "", c["status"], str(len(c["findings"])), (c["output"] or "")[:50])
    out.print(table)
    if page["next_cursor"]:
        out.print(f"more: --cursor {page['next_cursor']}")


@calls_app.command("show")
def show(call_id: str, raw: bool | None = typer.Option(None, "--raw/--redacted"),
         reason: str | None = typer.Option(None, help="why you read raw content (access log)")) -> None:
    params: dict[str, str] = {}
    if raw is not None:
        params["raw"] = str(raw).lower()
    if reason:
        params["reason"] = reason
    out.print_json(json.dumps(Api().get(f"/api/v1/calls/{call_id}", params=params)))


def erase(user: str = typer.Option(..., "--user", help="the raw user id (or --pseudonym)"),
          pseudonym: bool = typer.Option(False, "--pseudonym", help="USER is already a pseudonym")) -> None:
    """Delete one person's content everywhere; calls on legal hold are reported, not deleted."""
    report = Api().delete(f"/api/v1/subjects/{user}", params={"pseudonym": str(pseudonym).lower()})
    table = Table("what", "count")
    for key in ("deleted_calls", "deleted_raw", "deleted_findings", "held_calls"):
        table.add_row(key.replace("_", " "), str(report[key]))
    out.print(table)
    if report["held_by"]:
        out.print(f"held by: {', '.join(report['held_by'])}")
