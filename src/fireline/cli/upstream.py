"""`fireline upstream`: the scriptable OpenAI-compatible upstream for demos and drills."""

from __future__ import annotations

import typer


def upstream(host: str = typer.Option("127.0.0.1", help="bind address (loopback by default)"),
             port: int = typer.Option(9000, help="port; point FIRELINE_UPSTREAM_URL at http://HOST:PORT/v1")) -> None:
    """Serve the simulated OpenAI-compatible upstream (for demos, drills and tests).

    Modes: normal, refuse, leak_pii, leak_canary, write_tool, error, slow, token_explosion,
    hallucination; script it with POST /_script."""
    from fireline.simulator.upstream import run

    typer.echo(f"upstream simulator on http://{host}:{port}/v1 (POST /_script to make it misbehave)")
    run(host, port)
