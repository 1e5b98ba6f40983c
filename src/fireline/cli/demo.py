"""`fireline demo`: the story end to end, live, on embedded SQLite."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from fireline.cli.client import fail

out = Console()


def demo(exit_after: bool = typer.Option(False, "--exit", help="run the story and exit (0 only if contained)"),
         port: int = typer.Option(8700, help="port for the Fireline server"),
         workdir: Path = typer.Option(Path("demo-out"), "--dir", help="where the demo database lives"),
         warmup: float = typer.Option(6.0, help="seconds of normal traffic before the fault"),
         history: float = typer.Option(0.0, "--history", help="first log this many hours of past traffic "
                                                             "(baselines and charts over hours)")) -> None:
    """Run Fireline and a simulated AI support app, inject a cross-tenant leak, watch it contained."""
    from fireline import config
    from fireline.api import create_app
    from fireline.demo.story import prepare_environment, run_story
    from fireline.serving import ServerThread, free_port
    from fireline.simulator.upstream import UpstreamServer

    started = time.monotonic()
    # The story prints what matters; the server's own log lines would interleave with it.
    logging.getLogger("fireline").setLevel(logging.ERROR)

    def say(msg: str) -> None:
        out.print(f"[dim]{time.monotonic() - started:5.1f}s[/dim]  {msg}", soft_wrap=True)  # URLs and ids stay whole

    db_file = workdir / "fireline.db"
    for leftover in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        leftover.unlink(missing_ok=True)
    upstream = UpstreamServer(port=free_port()).start()
    token = prepare_environment(workdir, upstream.url + "/v1")
    config.reset()
    try:
        server = ServerThread(create_app(), port=port).start()
    except (RuntimeError, OSError, SystemExit) as exc:
        upstream.stop()
        fail(f"could not start Fireline on port {port}: {exc} (is another server running? try --port)")
    say(f"Fireline on {server.url} (SQLite at {db_file}), scriptable upstream on {upstream.url}")
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=15)
    try:
        with out.status("starting traffic...") as spinner:
            outcome = run_story(api, upstream, server.url, say, warmup_s=warmup,
                                status=lambda s: spinner.update(s), history_hours=history)
        table = Table("measure", "value", title="What happened")
        table.add_row("incident", f"{outcome.incident.get('id', '-')} {outcome.incident.get('type', '')} "
                                  f"{outcome.incident.get('severity', '')}")
        br = outcome.blast_radius
        table.add_row("incidents opened", str(outcome.incidents))
        table.add_row("blast radius", f"{br.get('users', '?')} users, {br.get('tenants', '?')} tenants, "
                                      f"{br.get('sessions', '?')} sessions, {br.get('calls', '?')} calls")
        table.add_row("leaked answers the app received", str(outcome.leaked_responses))
        table.add_row("answered after containment", str(br.get("answered_after_containment", "?")))
        pii = ", ".join(f"{k} {v}" for k, v in sorted((br.get("pii") or {}).items())) or "none"
        table.add_row("personal data exposed", pii)
        table.add_row("first occurrence", str(br.get("first_occurrence", "?")))
        ttd, ttc = outcome.time_to_detect, outcome.time_to_contain
        table.add_row("first leaked answer -> incident", f"{ttd:.2f} s" if ttd is not None else "not detected")
        table.add_row("first leaked answer -> contained", f"{ttc:.2f} s" if ttc is not None else "not contained")
        out.print(table)
        if outcome.postmortem:
            out.print(f"post-mortem draft: {outcome.postmortem}  (or: fireline postmortem "
                      f"{outcome.incident.get('id')})", soft_wrap=True)
        if exit_after:
            raise typer.Exit(0 if outcome.detected and outcome.contained else 1)
        out.print(f"\nFireline keeps running: console {server.url}/ , API docs {server.url}/docs", soft_wrap=True)
        out.print(f"admin key: [bold]{token}[/bold]   (FIRELINE_URL={server.url} FIRELINE_TOKEN=<key>)", soft_wrap=True)
        out.print("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    finally:
        api.close()
        server.stop()
        upstream.stop()
