"""``paynet-gateway db upgrade|downgrade|status``: the schema, through Alembic (database only)."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import Engine

from worker.cli.common import CommandError, database_errors, group
from worker.config import get_infrastructure
from worker.db.schema import current_revision, downgrade, head_revision, upgrade
from worker.lifecycle import open_database


@group("db", "Manage the database schema.")
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade", help="Bring the schema to the current version.")
def run_upgrade() -> int:
    return _migrate("db upgrade", lambda engine: upgrade(engine))


@db.command(
    "downgrade",
    help="Take the schema back to REVISION (run by the release that made the newer schema).",
    epilog="docs/operations.md, 'Schema upgrades and rollbacks', lists each release's revision.",
)
@click.argument("revision")
def run_downgrade(revision: str) -> int:
    return _migrate("db downgrade", lambda engine: downgrade(engine, revision))


def _migrate(doing: str, step: Callable[[Engine], None]) -> int:
    settings = get_infrastructure()
    engine = open_database(settings)
    try:
        with database_errors(settings, doing):
            step(engine)
            click.echo(f"database schema at revision {current_revision(engine)}")
    except CommandError:
        raise
    except Exception as exc:  # Alembic's own failures (a broken migration, say)
        raise CommandError(f"{doing} failed: {type(exc).__name__}: {exc}") from None
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
