"""`fireline what-changed INC` (change markers ranked against the incident's onset) and
`fireline labels queue|add|counts INC` (the labelling queue), via the API."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli import tables
from fireline.cli.client import Api
from fireline.cli.tables import Col

out = Console()


def what_changed(incident_id: str, hours: float = typer.Option(24.0, help="how far before onset to look"),
                 wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """Deploys and changes (model, prompt, config, ...) in the window before the first matching call."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/changes", params={"hours": hours})
    if as_json:
        tables.print_json(got)
        return
    out.print(f"onset {got['onset']} (detected {got['detected_at']}); apps: {', '.join(got['apps']) or 'all'}")
    if not got["changes"]:
        out.print(f"no change markers in the {hours:g} h before onset")
        return
    tables.show(got["changes"], [
        Col("#", lambda c: c.get("rank")),
        Col("at", lambda c: tables.when(c["at"])),
        Col("kind", lambda c: c["kind"]),
        Col("app", lambda c: c["app"], wide=True),
        Col("from", lambda c: c.get("from"), max_width=16),
        Col("to", lambda c: c.get("to"), max_width=16),
        Col("actor", lambda c: c.get("actor"), wide=True),
        Col("before onset", lambda c: f"{c['before_onset_s'] / 60:.0f} min"),
        Col("lift", lambda c: f"{c.get('lift', 1):.1f}x"),
    ], wide=wide)


labels_app = typer.Typer(help="The labelling queue: categorise a sample of an incident's affected answers.")


@labels_app.command("queue")
def labels_queue(incident_id: str, n: int = typer.Option(10, "-n", help="how many calls to show"),
                 wide: bool = tables.WIDE, as_json: bool = tables.JSON) -> None:
    """The next unlabelled affected calls (a stable random sample)."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/labels/queue", params={"n": n})
    if not as_json:
        out.print(f"{got['labelled']} labelled, {got['remaining']} to go; labels: {', '.join(got['labels'])}")
    if as_json:
        tables.print_json(got)
        return
    tables.show(got["calls"], [
        Col("call", lambda c: c["call_id"], id=True),
        Col("model", lambda c: c.get("model"), wide=True),
        Col("answer (redacted)", lambda c: c.get("output"), grow=True),
        Col("findings", lambda c: c["findings"], max_width=24),
    ], wide=wide, empty="nothing left to label")


@labels_app.command("add")
def labels_add(incident_id: str, call_id: str, label: str, note: str = typer.Option(None, help="why")) -> None:
    """Label one call: factual_error, invented_citation, confabulation, other or correct."""
    Api().post(f"/api/v1/incidents/{incident_id}/labels", json={"call_id": call_id, "label": label, "note": note})
    out.print(f"{call_id}: {label}")


@labels_app.command("counts")
def labels_counts(incident_id: str) -> None:
    """How the labelled sample splits (what the post-mortem reports)."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/labels")
    table = Table("label", "calls", "share")
    for k, v in got["counts"].items():
        table.add_row(k, str(v), f"{got['shares'][k]:.0%}")
    out.print(table)
