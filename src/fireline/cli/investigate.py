"""`fireline what-changed INC` (change markers ranked against the incident's onset) and
`fireline labels queue|add|counts INC` (the labelling queue), via the API."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli.client import Api

out = Console()


def what_changed(incident_id: str, hours: float = typer.Option(24.0, help="how far before onset to look")) -> None:
    """Deploys and changes (model, prompt, config, ...) in the window before the first matching call."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/changes", params={"hours": hours})
    out.print(f"onset {got['onset']} (detected {got['detected_at']}); apps: {', '.join(got['apps']) or 'all'}")
    if not got["changes"]:
        out.print(f"no change markers in the {hours:g} h before onset")
        return
    table = Table("#", "at", "kind", "app", "from", "to", "actor", "before onset", "lift")
    for c in got["changes"]:
        table.add_row(str(c.get("rank", "")), c["at"][:19], c["kind"], c["app"], (c.get("from") or "")[:16],
                      (c.get("to") or "")[:16], c.get("actor") or "", f"{c['before_onset_s'] / 60:.0f} min",
                      f"{c.get('lift', 1):.1f}x")
    out.print(table)


labels_app = typer.Typer(help="The labelling queue: categorise a sample of an incident's affected answers.")


@labels_app.command("queue")
def labels_queue(incident_id: str, n: int = typer.Option(10, "-n", help="how many calls to show")) -> None:
    """The next unlabelled affected calls (a stable random sample)."""
    got = Api().get(f"/api/v1/incidents/{incident_id}/labels/queue", params={"n": n})
    out.print(f"{got['labelled']} labelled, {got['remaining']} to go; labels: {', '.join(got['labels'])}")
    table = Table("call", "model", "answer (redacted)", "findings")
    for c in got["calls"]:
        table.add_row(c["call_id"], c.get("model") or "", (c.get("output") or "")[:60].replace("\n", " "),
                      ", ".join(c["findings"])[:30])
    out.print(table)


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
