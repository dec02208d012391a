"""``paynet-gateway db upgrade|status``: the schema, through Alembic."""

from __future__ import annotations

import argparse

from worker.cli.common import CommandError, Subparsers, add_command, database_errors
from worker.config import get_settings
from worker.db.engine import make_engine
from worker.db.schema import current_revision, head_revision, upgrade


def register(subparsers: Subparsers) -> None:
    db = add_command(subparsers, "db", "Manage the database schema.")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_command(actions, "upgrade", "Bring the schema to the current version.").set_defaults(
        handler=run_upgrade
    )
    status = add_command(actions, "status", "Show the schema version and the code's.")
    status.epilog = "Exits 0 when the schema is current, 1 when it is behind (run db upgrade)."
    status.set_defaults(handler=run_status)


def run_upgrade(_args: argparse.Namespace) -> int:
    url = get_settings().database.url
    engine = make_engine(url)
    try:
        with database_errors(url, "db upgrade"):
            upgrade(engine)
            print(f"database schema at revision {current_revision(engine)}")
    except CommandError:
        raise
    except Exception as exc:  # Alembic's own failures (a broken migration, say)
        raise CommandError(f"db upgrade failed: {type(exc).__name__}: {exc}") from None
    finally:
        engine.dispose()
    return 0


def run_status(_args: argparse.Namespace) -> int:
    url = get_settings().database.url
    engine = make_engine(url)
    try:
        with database_errors(url, "db status"):
            current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    print(f"database: {current or 'empty'}; code: {head}")
    return 0 if current == head else 1
