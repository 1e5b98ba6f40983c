"""`fireline monitors`, `fireline canary add|list|remove`, `fireline report`: detection over HTTP."""

from __future__ import annotations

import typer
from rich.console import Console

from fireline.cli import tables
from fireline.cli.client import Api
from fireline.cli.tables import Col

out = Console()
canary_app = typer.Typer(help="Cross-tenant canary tokens.", no_args_is_help=True)


MONITOR_COLUMNS = [
    Col("monitor", lambda r: r["monitor"], id=True),
    Col("group", lambda r: r["group"], grow=True),
    Col("value", lambda r: _num(r["value"])),
    Col("baseline", lambda r: _num(r["baseline"])),
    Col("ratio", lambda r: _num(r["ratio"]), wide=True),
    Col("calls", lambda r: r["volume"], wide=True),
    Col("state", lambda r: r["state"]),
    Col("last fired", lambda r: tables.when(r["last_fired"]), wide=True),
]


def monitors(firing: bool = typer.Option(False, "--firing", help="only groups that are firing now"),
             name: str | None = typer.Option(None, "--name", help="only this monitor"),
             wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Monitors with their current value, baseline and state per group (firing first)."""
    body = Api().get("/api/v1/monitors")
    if as_json:
        tables.print_json(body)
        return
    rows = []
    for m in body["monitors"]:
        if name and m["name"] != name:
            continue
        groups = [g for g in m["groups"] if g["state"] == "firing" or not firing]
        if not groups and not firing:
            rows.append({"monitor": m["name"], "group": "-", "value": None, "baseline": None, "ratio": None,
                         "volume": "", "state": "no data", "last_fired": None})
        rows += [{"monitor": m["name"], **g} for g in groups]
    rows.sort(key=lambda r: r["state"] != "firing")
    tables.show(rows, MONITOR_COLUMNS, wide=wide, empty="nothing firing" if firing else "no monitor")


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


@canary_app.command("add")
def canary_add(tenant: str, token: str) -> None:
    """Register TOKEN as TENANT's canary: seen in anyone else's output, it is a P0 leak."""
    c = Api().post("/api/v1/canaries", json={"tenant": tenant, "token": token})
    out.print(f"canary {c['id']} registered for {c['tenant']}")


@canary_app.command("list")
def canary_list(tenant: str | None = None, as_json: bool = tables.JSON) -> None:
    """Registered canary tokens per tenant."""
    body = Api().get("/api/v1/canaries", params={"tenant": tenant} if tenant else None)
    if as_json:
        tables.print_json(body)
        return
    tables.show(body["canaries"], [Col("id", lambda c: c["id"], id=True), Col("tenant", lambda c: c["tenant"]),
                                   Col("token", lambda c: c["token"], grow=True),
                                   Col("created", lambda c: tables.when(c["created_at"]))], empty="no canary")


@canary_app.command("remove")
def canary_remove(canary_id: int) -> None:
    """Stop watching a canary token (by the id `canary list` shows)."""
    Api().delete(f"/api/v1/canaries/{canary_id}")
    out.print(f"canary {canary_id} removed")


def report(call_id: str, kind: str = typer.Argument(..., help="harmful, wrong, leak, other or thumbs_down"),
           text: str = typer.Option("", help="what the user said (stored PII-redacted)"),
           at: str = typer.Option(None, help="when the user said it (ISO 8601, with a timezone)")) -> None:
    """Report a call as a user would (feeds the report monitors).

    A report on a call not logged yet waits for it (pending) and is joined when it lands."""
    body = {"call_id": call_id, "kind": kind, "text": text or None, **({"at": at} if at else {})}
    r = Api().post("/api/v1/reports", json=body)
    waiting = " (pending: no such call logged yet; joined when it lands)" if r.get("status") == "pending" else ""
    out.print(f"report {r['id']} ({r['kind']}) on call {r['call_id']}{waiting}")


def register(app: typer.Typer) -> None:
    app.command("monitors")(monitors)
    app.add_typer(canary_app, name="canary")
    app.command("report")(report)
