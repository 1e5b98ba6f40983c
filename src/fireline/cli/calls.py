"""`fireline calls search|show` and `fireline erase`, through the HTTP API."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import WHEN_HELP, Api, seg, time_param
from fireline.cli.tables import Col

out = Console()
calls_app = typer.Typer(help="Search and read logged calls (via the API).", no_args_is_help=True)


CALL_COLUMNS = [
    Col("id", lambda c: c["id"], id=True),
    Col("started", lambda c: tables.when(c["started_at"], seconds=True)),
    Col("app", lambda c: c["app"], wide=True),
    Col("tenant", lambda c: c["tenant"], max_width=12),
    Col("user", lambda c: (c["user_pseudonym"] or "")[:12], wide=True),
    Col("session", lambda c: c.get("session_id"), wide=True),
    Col("model", lambda c: c.get("model_resolved") or c["model"], wide=True),
    Col("prompt", lambda c: c.get("prompt_version"), wide=True),
    Col("status", lambda c: c["status"], wide=True),
    Col("findings", lambda c: " ".join(sorted({f"{f['detector']}:{f['kind']}" for f in c["findings"]}))
        or "-", grow=True),
    Col("output", lambda c: (c["output"] or "")[:80], wide=True, grow=True),
]


@calls_app.command("search")
def search(app: str | None = None, model: str | None = None, tenant: str | None = None,
           user: str | None = typer.Option(None, help="raw user id; hashed the same way as at ingest"),
           session: str | None = None, status: str | None = None, prompt_version: str | None = None,
           text: str | None = typer.Option(None, "--text", "-q"),
           since: str | None = typer.Option(None, help=WHEN_HELP),
           until: str | None = typer.Option(None, help=WHEN_HELP),
           detector: str | None = None,
           finding: str | None = typer.Option(None, help="a finding kind, e.g. canary_leak"),
           limit: int = 20, cursor: str | None = typer.Option(None, help="the next page (printed under a full page)"),
           wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Search the prompt log, newest first (content redacted: `calls show --raw` for one call)."""
    params = {k: v for k, v in dict(app=app, model=model, tenant=tenant, user=user, session=session,
                                     status=status, prompt_version=prompt_version, q=text,
                                     since=time_param(since, "--since"), until=time_param(until, "--until"),
                                     detector=detector, finding=finding, limit=limit,
                                     cursor=cursor).items() if v is not None}
    page = Api().get("/api/v1/calls", params=params)
    if as_json:
        tables.print_json(page)
        return
    tables.show(page["calls"], CALL_COLUMNS, wide=wide, empty="no call matches")
    if page["next_cursor"]:
        out.print(f"more: add --cursor {page['next_cursor']}", highlight=False, soft_wrap=True)


@calls_app.command("show")
def show(call_id: str, raw: bool | None = typer.Option(None, "--raw/--redacted"),
         reason: str | None = typer.Option(None, help="why you read raw content (access log)")) -> None:
    """One call with its findings (raw content for a responder key, written to the access log)."""
    params: dict[str, str] = {}
    if raw is not None:
        params["raw"] = str(raw).lower()
    if reason:
        params["reason"] = reason
    out.print_json(json.dumps(Api().get(f"/api/v1/calls/{seg(call_id)}", params=params)))


def erase(user: str = typer.Option(..., "--user", help="the raw user id (or --pseudonym)"),
          pseudonym: bool = typer.Option(False, "--pseudonym", help="USER is already a pseudonym")) -> None:
    """Delete one person's content everywhere (GDPR erasure).

    Calls on legal hold are reported, and erased when the hold is released."""
    report = Api().delete(f"/api/v1/subjects/{seg(user)}", params={"pseudonym": str(pseudonym).lower()})
    table = Table("what", "count")
    for key in ("deleted_calls", "deleted_raw", "deleted_findings", "held_calls"):
        table.add_row(key.replace("_", " "), str(report[key]))
    out.print(table)
    if report["held_by"]:
        out.print(f"held by: {', '.join(report['held_by'])}")
    if report.get("queued"):
        out.print("queued: the held calls are erased when their incidents release the hold")
