"""Admin commands that act on the database directly: serve, db, keys, retention.

The database, the key service and the server's wiring are imported inside the commands that use
them: every `fireline` command (the API client's too, and `--help`) loads this module, and they
cost most of a second of CPU to import."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from fireline.cli.client import fail
from fireline.errors import FirelineError

if TYPE_CHECKING:
    from fireline.db import Database

out = Console()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (admin, direct database access).", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of raw content and records.", no_args_is_help=True)


def _database() -> Database:
    from fireline.db import get_db

    try:
        db = get_db()
        db.upgrade()
        return db
    except Exception as exc:  # connection refused, bad URL: one line, not a traceback
        fail(f"database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to FIRELINE_DATABASE_URL."""
    db = _database()
    out.print(f"database at revision head ({db.dialect})")


@keys_app.command("create")
def keys_create(role: str = typer.Option(..., "--role", help="ingest, viewer, responder or admin"),
                name: str | None = typer.Option(None, "--name")) -> None:
    """Create a key; it is shown once."""
    from fireline.auth import service as keys_service

    try:
        name = keys_service.key_name(name)
    except FirelineError as exc:  # before the database is touched; the option as the user typed it
        fail(f"--{exc.message}", 2)
    db = _database()
    try:
        with db.writing() as session:
            row, key = keys_service.create_key(session, role, name)
    except FirelineError as exc:
        fail(exc.message)
    out.print(f"id   {row.id}\nrole {row.role}\nkey  {key}")


@keys_app.command("list")
def keys_list() -> None:
    """Keys with their role and name (never the key itself)."""
    from fireline.auth import service as keys_service

    db = _database()
    with db.session() as session:
        rows = keys_service.list_keys(session)
    table = Table("id", "role", "name", "created", "revoked")
    for r in rows:
        table.add_row(r.id, r.role, r.name or "", r.created_at.isoformat(timespec="seconds"),
                      r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id: the next request with it is refused."""
    from fireline.auth import service as keys_service
    from fireline.config import data_dir

    db = _database()
    keys_service.configure(data_dir())  # servers sharing the data directory see it on their next request
    try:
        with db.writing() as session:
            keys_service.revoke_key(session, key_id)
    except FirelineError as exc:
        fail(exc.message)
    out.print(f"revoked {key_id}")


@retention_app.command("run")
def retention_run() -> None:
    """Purge raw content and records past their retention (legal holds are kept)."""
    from fireline import wiring
    from fireline.calls.retention import run_retention
    from fireline.config import ConfigError, get_config

    try:
        privacy = get_config().privacy
    except ConfigError as exc:
        fail(str(exc))
    db = _database()
    wiring.data_handlers(db.bus)  # user reports go with their calls, as in the server
    with out.status("running retention..."), db.writing() as session:
        report = run_retention(session, raw_days=privacy.raw_retention_days, record_days=privacy.retention_days)
    table = Table("what", "count")
    table.add_row("raw content purged", str(report.raw_purged))
    table.add_row("calls purged", str(report.calls_purged))
    table.add_row("kept on legal hold", str(report.held_skipped))
    out.print(table)
