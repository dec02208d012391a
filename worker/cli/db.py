"""``paynet-gateway db upgrade|status``: the schema, through Alembic."""

from __future__ import annotations

import argparse

from worker.cli.common import CommandError, Subparsers, add_command
from worker.config import get_settings
from worker.database import make_engine
from worker.schema import current_revision, head_revision, upgrade


def register(subparsers: Subparsers) -> None:
    db = add_command(subparsers, "db", "Manage the database schema.")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_command(actions, "upgrade", "Bring the schema to the current version.").set_defaults(
        handler=run_upgrade
    )
    add_command(actions, "status", "Show the schema version and the code's.").set_defaults(
        handler=run_status
    )


def run_upgrade(_args: argparse.Namespace) -> int:
    engine = make_engine(get_settings().database.url)
    try:
        upgrade(engine)
        print(f"database schema at revision {current_revision(engine)}")
    except Exception as exc:
        raise CommandError(f"db upgrade failed: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    return 0


def run_status(_args: argparse.Namespace) -> int:
    engine = make_engine(get_settings().database.url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    print(f"database: {current or 'empty'}; code: {head}")
    return 0 if current == head else 1
