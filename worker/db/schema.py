"""Schema versions: ``paynet-gateway db upgrade|downgrade`` apply migrations, workers check them.

A worker starts on its own head revision, on an older one whose newer migrations its code does
not need, or on a newer one that says it serves this code (``worker/db/versions.py``); it
refuses any other with a message saying which way to go.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from worker.db.compat import serves_from
from worker.db.versions import Ahead, Behind, Migration, verdict

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class SchemaMismatch(Exception):
    """This code cannot use the database's schema; the message says which way to go."""


class SchemaBehind(SchemaMismatch):
    """The schema is older than the code needs: upgrade the database."""


class SchemaAhead(SchemaMismatch):
    """The schema is newer than this code can use: roll out newer code, or downgrade."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def head_revision() -> str | None:
    return _scripts().get_current_head()


def code_chain() -> list[Migration]:
    """The code's migrations, its head first, each with whether the code needs it."""
    return [
        Migration(script.revision, bool(getattr(script.module, "needed_by_code", True)))
        for script in _scripts().walk_revisions()
    ]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    _run(engine, command.upgrade, target)


def downgrade(engine: Engine, target: str) -> None:
    _run(engine, command.downgrade, target)


def _run(engine: Engine, step: object, target: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        step(config, target)  # type: ignore[operator]


def ensure_compatible(engine: Engine) -> None:
    """Raise unless this code can run on the database's schema."""
    current, chain = current_revision(engine), code_chain()
    known = {migration.revision for migration in chain}
    found = verdict(
        current, chain, serves_from(engine, current) if current and current not in known else None
    )
    if isinstance(found, Behind):
        raise SchemaBehind(found.message)
    if isinstance(found, Ahead):
        raise SchemaAhead(found.message)
