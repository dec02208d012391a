"""``paynet-gateway db upgrade|status``: the schema, through Alembic (``database.url`` only)."""

from __future__ import annotations

import click

from worker.cli.common import CommandError, database_errors, group
from worker.config import get_infrastructure
from worker.db.schema import current_revision, head_revision, upgrade
from worker.lifecycle import open_database


@group("db", "Manage the database schema.")
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade", help="Bring the schema to the current version.")
def run_upgrade() -> int:
    settings = get_infrastructure()
    engine = open_database(settings)
    try:
        with database_errors(settings, "db upgrade"):
            upgrade(engine)
            click.echo(f"database schema at revision {current_revision(engine)}")
    except CommandError:
        raise
    except Exception as exc:  # Alembic's own failures (a broken migration, say)
        raise CommandError(f"db upgrade failed: {type(exc).__name__}: {exc}") from None
    finally:
        engine.dispose()
    return 0


@db.command(
    "status",
    help="Show the schema version and the code's.",
    epilog="Exits 0 when the schema is current, 1 when it is behind (run db upgrade).",
)
def run_status() -> int:
    settings = get_infrastructure()
    engine = open_database(settings)
    try:
        with database_errors(settings, "db status"):
            current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    click.echo(f"database: {current or 'empty'}; code: {head}")
    return 0 if current == head else 1
