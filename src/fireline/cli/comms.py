"""Comms and post-mortem commands, through the HTTP API:

    fireline incident update INC --message ... [--public [--impact degraded]]
    fireline status set APP STATE [--message ...] | fireline status show
    fireline obligations INC [--met OID --note ...] [--json]
    fireline high-risk INC [--reason ...] [--consequences ...] [--clear]
    fireline postmortem INC [--format md|html|json] [--out FILE]
    fireline postmortems [--overdue]
    fireline root-cause INC --category prompt --why ... [--why ...] --factor ... [--remediation ...]
                        [--regression-test SUITE] [--prevention ...] [--summary ...] [--finding ...]
    fireline action INC --title ... --owner ... --due YYYY-MM-DD
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import Api, fail, write_file
from fireline.cli.tables import Col

out = Console()


def update(incident_id: str, message: str = typer.Option(..., "--message", "-m", help="what is known and next"),
           public: bool = typer.Option(False, "--public", help="also post it on the public status page"),
           impact: str | None = typer.Option(None, "--impact", help="with --public: operational, degraded, "
                                                                     "partial_outage or major_outage")) -> None:
    """Post an update on an incident (internal; with --public also on the status page)."""
    body: dict[str, Any] = {"message": message, "public": public}
    if impact is not None:
        body["impact"] = impact
    u = Api().post(f"/api/v1/incidents/{incident_id}/updates", json=body)
    shown = f" (status page: {u['impact']})" if u.get("impact") else ""
    out.print(f"{incident_id}: {'public' if u['public'] else 'internal'} update posted at {u['at']}{shown}")


status_app = typer.Typer(help="The public status page: show it, set a component's state by hand.",
                         no_args_is_help=True)


@status_app.command("set")
def status_set(component: str, state: str = typer.Argument(..., help="operational, degraded, partial_outage, "
                                                                      "major_outage"),
               message: str | None = typer.Option(None, "--message", "-m")) -> None:
    """Set a public app's state on the status page; it holds until set again or a later public update."""
    c = Api().post(f"/api/v1/status/components/{component}", json={"status": state, "message": message})
    out.print(f"{c['name']} is {c['status']} on the status page ({c['source']})")


@status_app.command("show")
def status_show(as_json: bool = typer.Option(False, "--json")) -> None:
    """The public components, their state and what decided it."""
    comps = Api().get("/api/v1/status/components")["components"]
    if as_json:
        out.print_json(json.dumps(comps))
        return
    table = Table("component", "state", "decided by", "since")
    for c in comps:
        table.add_row(c["name"], c["status"], c["source"], (c["since"] or "-")[:16].replace("T", " "))
    out.print(table if comps else "no public apps (declare one with apps.<name>.public: true)")


OBLIGATION_COLUMNS = [
    Col("id", lambda o: o["id"], id=True),
    Col("obligation", lambda o: o.get("kind") or o["title"], max_width=18),
    Col("title", lambda o: o["title"], wide=True),
    Col("due (UTC)", lambda o: tables.when(o["deadline"])),
    Col("status", lambda o: o["status"]),
    Col("missing contents", lambda o: o["missing"] or "-", wide=True, grow=True),
]


def _obligation_table(obs: list[dict[str, Any]], wide: bool = False) -> Table:
    return tables.table(obs, OBLIGATION_COLUMNS, wide=wide)


def obligations(incident_id: str, met: str | None = typer.Option(None, "--met", help="mark this obligation met"),
                note: str | None = typer.Option(None, "--note", help="with --met: how it was met"),
                personal_data: str | None = typer.Option(None, "--personal-data",
                                                         help="yes|no: is personal data involved (a leak "
                                                              "without calls)?"),
                reason: str | None = typer.Option(None, "--reason", help="with --personal-data: why"),
                wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Disclosure obligations of an incident (GDPR articles 33 and 34): deadlines, required contents."""
    api = Api()
    if met:
        api.post(f"/api/v1/incidents/{incident_id}/obligations/{met}/met", json={"note": note})
    if personal_data is not None:
        if personal_data.lower() not in ("yes", "no"):
            fail("--personal-data: answer yes or no")
        if not (reason or "").strip():
            fail("--personal-data needs --reason")
        api.post(f"/api/v1/incidents/{incident_id}/personal-data",
                 json={"involved": personal_data.lower() == "yes", "reason": reason})
    got = api.get(f"/api/v1/incidents/{incident_id}/obligations")
    obs = got["obligations"]
    if as_json:
        out.print_json(json.dumps(got))
        return
    for q in got.get("questions", []):
        out.print(f"[bold]question:[/bold] {q['question']} Answer: {q['answer']}")
    for w in got.get("would_open", []):
        out.print(f"drill: {w['title']} would open, due {w['deadline'][:16].replace('T', ' ')} UTC (not opened)")
    if not obs:
        out.print(f"{incident_id}: no disclosure obligations")
        return
    tables.console(wide).print(_obligation_table(obs, wide))


def high_risk(incident_id: str, reason: str | None = typer.Option(None, "--reason"),
              consequences: str | None = typer.Option(None, "--consequences", help="likely consequences"),
              clear: bool = typer.Option(False, "--clear", help="mark it not high-risk")) -> None:
    """Mark an incident high-risk to the individuals (opens the GDPR Art. 34 obligation)."""
    r = Api().post(f"/api/v1/incidents/{incident_id}/high-risk",
                   json={"high_risk": not clear, "reason": reason, "likely_consequences": consequences})
    out.print(_obligation_table(r["obligations"]) if r["obligations"] else f"{incident_id}: no obligations")


def postmortem(incident_id: str, format: str = typer.Option("md", "--format", help="md, html or json"),
               out_file: Path | None = typer.Option(None, "--out", help="write to this file")) -> None:
    """Generate the post-mortem of an incident."""
    if format not in ("md", "html", "json"):
        fail(f"--format must be md, html or json, not {format!r}")
    body = Api().get(f"/api/v1/incidents/{incident_id}/postmortem", params={"format": format})
    text = json.dumps(body, indent=2) if isinstance(body, dict) else body.decode()
    if out_file:
        write_file(out_file, text)
        out.print(f"wrote {out_file}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")


def postmortems(overdue: bool = typer.Option(False, "--overdue", help="only the overdue ones"),
                wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Post-mortems of resolved incidents: due dates, completion, overdue."""
    got = Api().get("/api/v1/postmortems", params={"overdue": str(overdue).lower()})
    if as_json:
        tables.print_json(got)
        return
    tables.show(got["postmortems"], [
        Col("incident", lambda r: r["incident_id"], id=True),
        Col("sev", lambda r: r["severity"]),
        Col("title", lambda r: r["title"], grow=True),
        Col("resolved", lambda r: (r["resolved_at"] or "")[:10], wide=True),
        Col("due", lambda r: r["due"]),
        Col("status", lambda r: "done" if r["completed_at"] else ("overdue" if r["overdue"] else "open")),
    ], wide=wide, empty="no post-mortem")


def root_cause(incident_id: str, category: str | None = typer.Option(
                   None, "--category", help="model, prompt, data, configuration or infrastructure"),
               why: list[str] = typer.Option([], "--why", help="the 5 whys in order, why 1 first (repeatable)"),
               factor: list[str] = typer.Option([], "--factor", help="a contributing factor (repeatable)"),
               remediation: list[str] = typer.Option([], "--remediation", help="a remediation step (repeatable)"),
               regression_test: str | None = typer.Option(None, "--regression-test",
                                                          help="the eval suite id that locks the fix"),
               prevention: str | None = typer.Option(None, "--prevention", help="how recurrence is prevented"),
               summary: str | None = typer.Option(None, "--summary"),
               finding: str | None = typer.Option(None, "--finding", help="the blameless finding, in words")) -> None:
    """Record the root cause of an incident (replaces the previous record)."""
    rc = Api().request("PUT", f"/api/v1/incidents/{incident_id}/root-cause",
                       json={"category": category, "whys": why, "factors": factor, "remediation": remediation,
                             "regression_test": regression_test, "prevention": prevention, "summary": summary,
                             "finding": finding})
    out.print(f"{incident_id}: root cause {rc['category'] or '-'}; {len(rc['whys'])} whys; "
              f"factors: {'; '.join(rc['factors']) or '-'}; regression test: {rc['regression_test'] or '-'}")
    for i, w in enumerate(rc["whys"], 1):
        out.print(f"  why {i}: {w}")


def action(incident_id: str, title: str = typer.Option(..., "--title"), owner: str = typer.Option(..., "--owner"),
           due: str = typer.Option(..., "--due", help="YYYY-MM-DD")) -> None:
    """Add a post-mortem action item with an owner and a due date."""
    try:
        date.fromisoformat(due)
    except ValueError:
        fail(f"--due must be a date such as 2026-12-04, not {due!r}")
    a = Api().post(f"/api/v1/incidents/{incident_id}/actions", json={"title": title, "owner": owner, "due": due})
    out.print(f"{incident_id}: action #{a['id']} for {a['owner']}, due {a['due']}")


def register(app: typer.Typer) -> None:
    """Adds `incident update` to the incidents part's group, and the top-level commands."""
    from fireline.cli.incidents import incident_app

    incident_app.command("update")(update)
    app.command("obligations")(obligations)
    app.command("high-risk")(high_risk)
    app.command("postmortem")(postmortem)
    app.command("postmortems")(postmortems)
    app.command("root-cause")(root_cause)
    app.command("action")(action)
    app.add_typer(status_app, name="status")
