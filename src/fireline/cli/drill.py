"""`fireline drill --scenario NAME`: rehearse against a running Fireline."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer
from rich.console import Console

from fireline.cli.client import fail
from fireline.config import get_settings
from fireline.errors import FirelineError

out = Console()


def drill(scenario: str = typer.Option(..., "--scenario", "-s", help="a shipped scenario name or a YAML file"),
          app: str = typer.Option("drill", help="the app the drill runs as (containment acts on it)"),
          auto_ack: bool = typer.Option(False, "--auto-ack", help="acknowledge the incident as the drill"),
          contain: bool = typer.Option(False, "--contain", help="apply the playbook if nothing contained it"),
          timeout: float = typer.Option(30.0, help="seconds to wait for each step"),
          report_dir: Path = typer.Option(Path("drill-reports"), "--out")) -> None:
    """Inject a fault for a drill cohort through the gateway and time detect, ack, contain, verify."""
    from fireline.drills import report as reporting
    from fireline.drills.runner import Drill
    from fireline.drills.scenario import load

    settings = get_settings()
    if not settings.token:
        fail("set FIRELINE_TOKEN to an admin key (fault injection is admin only)")
    try:
        sc = load(scenario)
    except FirelineError as exc:
        fail(exc.message)
    runner = Drill(sc, url=settings.url, token=settings.token, app=app, auto_ack=auto_ack, contain=contain,
                   timeout=timeout, say=lambda m: out.print(f"  {m}", soft_wrap=True))
    out.print(f"[bold]drill {runner.id}[/bold]: {sc.title}", soft_wrap=True)
    try:
        with out.status(f"drill {runner.id} running (each step waits up to {timeout:g} s)..."):
            result = runner.run()
    except httpx.TransportError as exc:
        fail(f"cannot reach Fireline at {settings.url} ({type(exc).__name__}: {exc}); set FIRELINE_URL")
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        fail(str(exc))
    try:
        md, js = reporting.write(result, report_dir)
    except OSError as exc:
        fail(f"--out {report_dir}: cannot write the report: {exc.strerror or exc}")
    out.print(reporting.markdown(result))
    out.print(f"report: {md} and {js}")
    if not (result.detected and result.contained):
        raise typer.Exit(1)
