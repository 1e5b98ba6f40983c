"""`fireline what-changed INC`: change markers before the incident's onset (via the API)."""

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
    table = Table("at", "kind", "app", "from", "to", "actor", "before onset")
    for c in got["changes"]:
        table.add_row(c["at"][:19], c["kind"], c["app"], c.get("from") or "", c.get("to") or "", c.get("actor") or "",
                      f"{c['before_onset_s'] / 60:.0f} min")
    out.print(table)
