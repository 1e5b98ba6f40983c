"""The `fireline` command: admin commands act on the database, operational ones on the API."""

from __future__ import annotations

import logging
from typing import Any

import typer

from fireline.cli import admin, calls, demo, drill, investigate
from fireline.cli import changes as changes_cli
from fireline.cli import comms as comms_cli
from fireline.cli import controls as controls_cli
from fireline.cli import detect as detect_cli
from fireline.cli import evals as evals_cli
from fireline.cli import incidents as incidents_cli
from fireline.cli import replay as replay_cli
from fireline.cli import upstream as upstream_cli

app = typer.Typer(help="Fireline: incident response for AI features.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def _print_version(value: bool) -> None:
    if value:
        from fireline import __version__

        typer.echo(f"fireline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="print the version and exit")) -> None:
    """Fireline: incident response for AI features."""
    from fireline.cli.client import fail
    from fireline.config import ConfigError, get_settings

    try:  # a malformed FIRELINE_ variable is one line naming it, whatever the command
        get_settings()
    except ConfigError as exc:
        fail(str(exc))


app.add_typer(admin.db_app, name="db")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.retention_app, name="retention")
app.add_typer(calls.calls_app, name="calls")
app.command("erase")(calls.erase)
app.command("demo")(demo.demo)
app.command("drill")(drill.drill)
app.command("what-changed")(investigate.what_changed)
app.add_typer(investigate.labels_app, name="labels")
app.command("upstream")(upstream_cli.upstream)
app.command("change")(changes_cli.change)
app.command("changes")(changes_cli.changes)
app.add_typer(incidents_cli.incident_app, name="incident")
app.add_typer(incidents_cli.evidence_app, name="evidence")
app.command("blast-radius")(incidents_cli.blast_radius)
app.command("contain")(controls_cli.contain)
app.add_typer(controls_cli.controls_app, name="controls")
app.add_typer(evals_cli.eval_app, name="eval")
app.command("replay")(replay_cli.replay)
app.command("verify")(replay_cli.verify)
app.command("replays")(replay_cli.replays)
comms_cli.register(app)  # incident update, obligations, high-risk, postmortem(s), root-cause, action
detect_cli.register(app)  # monitors, canary add|list|remove, report


def _plain_help(typer_app: typer.Typer) -> None:
    """Help and usage errors in click's plain layout: at 80 columns Rich's boxed tables cut long
    option names (`--max-failure-r…`) and spread a one-line error over a box."""
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _plain_help(group.typer_instance)


_plain_help(app)


@app.command()
def serve(host: str = "127.0.0.1", port: int = typer.Option(8700, min=1, max=65535),
          workers: int | None = typer.Option(None, "--workers", min=1,
                                             help="processes sharing the port (default: the number of cores; "
                                                  "1 on SQLite)"),
          log_level: str = typer.Option("info", help="debug, info, warning, error")) -> None:
    """API, gateway, OTLP, OFREP, metrics and console on one port.

    Several workers share the port and their state (PostgreSQL, and Redis when FIRELINE_REDIS_URL
    is set); one of them leads the once-only loops."""
    import gc

    # No automatic collection while the server's modules load and the app is made: those went over
    # the growing heap again and again (~0.24 s of CPU); one full collection after create_app frees
    # the same cyclic leftovers (~2,500 objects, ~0.1 s).
    gc.disable()
    try:
        return _serve(host, port, workers, log_level)
    finally:
        gc.enable()


def _serve(host: str, port: int, workers: int | None, log_level: str) -> None:
    import gc
    import os

    import uvicorn

    from fireline.api import create_app
    from fireline.cli.client import fail
    from fireline.config import ConfigError, get_secret, get_settings

    levels = ("debug", "info", "warning", "error")
    if log_level.lower() not in levels:
        fail(f"--log-level must be one of {', '.join(levels)}, not {log_level!r}", 2)
    log_level = log_level.lower()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":  # one line per migration and plugin at every start is noise
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from fireline.config import secret_path
    from fireline.errors import FirelineError

    made_now = not get_settings().secret and not secret_path().exists()
    try:
        application = create_app()  # also checks the config: one clear line before any worker starts
    except ConfigError as exc:  # name the file the section lives in, unless the message names its variable
        fail(str(exc) if str(exc).startswith("FIRELINE_") else f"FIRELINE_CONFIG: {exc}")
    except FirelineError as exc:
        fail(f"FIRELINE_CONFIG: {exc.message}")
    gc.enable()
    gc.collect()
    from fireline.calls.privacy import key_problem

    problem = key_problem(application.state.db, made_now=made_now)
    if problem:  # one line, unwrapped, naming the key file
        if made_now:  # the key file this start made opens nothing: do not leave it in the way
            secret_path().unlink(missing_ok=True)
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    from fireline import native

    logging.getLogger("fireline").info("PII scanner and detectors: %s", "compiled" if native.state == "compiled" else
                                       f"from their sources ({native.state}; `make native` compiles them)")
    if application.state.db.is_sqlite:
        if workers is not None and workers > 1:
            logging.getLogger("fireline").warning(
                "SQLite allows one writing process: serving with 1 worker (use PostgreSQL for --workers %d)", workers)
        workers = 1
    elif workers is None:
        workers = os.cpu_count() or 1
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=False)
        return
    # Workers are separate processes: whatever they must agree on exists before they start.
    get_secret()  # the key file, when FIRELINE_SECRET is unset
    try:
        application.state.db.upgrade()
    except Exception as exc:
        from fireline.api import database_away

        if not database_away(application.state.db, exc):
            fail(f"database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        # each worker starts without it and migrates when it is back (one at a time: an advisory lock)
        logging.getLogger("fireline").warning("the database does not answer: the workers start without it")
    application.state.db.dispose()
    if get_settings().redis_url is None:
        logging.getLogger("fireline").info("%d workers share counters and monitor windows through PostgreSQL "
                                           "(set FIRELINE_REDIS_URL to use Redis)", workers)
    uvicorn.run("fireline.api:create_app", factory=True, workers=workers, host=host, port=port,
                log_level=log_level, access_log=False, log_config=worker_logging(log_level))


def worker_logging(level: str) -> dict[str, Any]:
    """uvicorn's logging config plus Fireline's own lines, applied in every worker process (the
    `basicConfig` above configures this parent only)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["fireline"] = {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"}
    config["handlers"]["fireline"] = {"class": "logging.StreamHandler", "formatter": "fireline",
                                      "stream": "ext://sys.stderr"}
    config["loggers"]["fireline"] = {"handlers": ["fireline"], "level": level.upper(), "propagate": False}
    return config


if __name__ == "__main__":
    app()
