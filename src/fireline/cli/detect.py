"""`fireline monitors`, `fireline canary add|list|remove`, `fireline report`: detection over HTTP."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli.client import Api

out = Console()
canary_app = typer.Typer(help="Cross-tenant canary tokens.", no_args_is_help=True)


def monitors(firing: bool = typer.Option(False, "--firing", help="only groups that are firing now")) -> None:
    """Monitors with their current value, baseline and state per group."""
    body = Api().get("/api/v1/monitors")
    table = Table("monitor", "group", "value", "baseline", "ratio", "calls", "state", "last fired")
    for m in body["monitors"]:
        groups = [g for g in m["groups"] if g["state"] == "firing" or not firing]
        if not groups and not firing:
            table.add_row(m["name"], "-", "", "", "", "", "no data", "")
        for g in groups:
            table.add_row(m["name"], g["group"], _num(g["value"]), _num(g["baseline"]), _num(g["ratio"]),
                          str(g["volume"]), "[red]firing[/red]" if g["state"] == "firing" else "ok",
                          (g["last_fired"] or "")[:19])
    out.print(table)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


@canary_app.command("add")
def canary_add(tenant: str, token: str) -> None:
    """Register TOKEN as TENANT's canary: seen in anyone else's output, it is a P0 leak."""
    c = Api().post("/api/v1/canaries", json={"tenant": tenant, "token": token})
    out.print(f"canary {c['id']} registered for {c['tenant']}")


@canary_app.command("list")
def canary_list(tenant: str | None = None) -> None:
    body = Api().get("/api/v1/canaries", params={"tenant": tenant} if tenant else None)
    table = Table("id", "tenant", "token", "created")
    for c in body["canaries"]:
        table.add_row(str(c["id"]), c["tenant"], c["token"], c["created_at"][:19])
    out.print(table)


@canary_app.command("remove")
def canary_remove(canary_id: int) -> None:
    Api().delete(f"/api/v1/canaries/{canary_id}")
    out.print(f"canary {canary_id} removed")


def report(call_id: str, kind: str = typer.Argument(..., help="harmful, wrong, leak, other or thumbs_down"),
           text: str = typer.Option("", help="what the user said (stored PII-redacted)"),
           at: str = typer.Option(None, help="when the user said it (ISO 8601, with a timezone)")) -> None:
    """Report a call as a user would (feeds the report monitors). A report on a call not logged yet
    waits for it (pending) and is joined when it lands."""
    body = {"call_id": call_id, "kind": kind, "text": text or None, **({"at": at} if at else {})}
    r = Api().post("/api/v1/reports", json=body)
    waiting = " (pending: no such call logged yet; joined when it lands)" if r.get("status") == "pending" else ""
    out.print(f"report {r['id']} ({r['kind']}) on call {r['call_id']}{waiting}")


def register(app: typer.Typer) -> None:
    app.command("monitors")(monitors)
    app.add_typer(canary_app, name="canary")
    app.command("report")(report)
