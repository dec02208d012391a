"""Expand and contract with real workers: this code on the next release's schema (a migration
written here as the next release would write it, marked as serving this code), and this code on
the previous schema (its own migration marked as one it does without). Each in a database of
its own, made and dropped by the test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from celery import Celery

from devservices.isolated import create_scratch_database, drop_scratch_database
from devservices.stack import Services
from tests.conftest import call
from tests.support.workers import WorkerPool
from worker.db.engine import make_engine
from worker.db.schema import (
    MIGRATIONS,
    SchemaAhead,
    alembic_config,
    current_revision,
    ensure_compatible,
    head_revision,
    upgrade,
)

# The next release's migration: it expands (a column this code never writes) and records the
# oldest code that can use the schema it leaves.
NEXT_RELEASE = """
import sqlalchemy as sa
from alembic import op

from worker.db.compat import mark, unmark

revision = "9001"
down_revision = {head!r}
branch_labels = None
depends_on = None
needed_by_code = True


def upgrade() -> None:
    op.add_column("paynet_ledger", sa.Column("note", sa.Text, nullable=True))
    mark(revision, {serves_from!r})


def downgrade() -> None:
    unmark(revision)
    op.drop_column("paynet_ledger", "note")
"""


@pytest.fixture
def database(real_services: Services) -> Iterator[str]:
    admin = real_services.postgres_admin_url
    if admin is None:
        pytest.skip("needs PostgreSQL")
    url = create_scratch_database(admin)
    yield url
    drop_scratch_database(url, admin_url=admin)


def upgrade_to_next_release(url: str, versions: Path, serves_from: str) -> None:
    versions.mkdir()
    text = NEXT_RELEASE.format(head=head_revision(), serves_from=serves_from)
    (versions / "9001_next_release.py").write_text(text)
    config = alembic_config(url)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", f"{MIGRATIONS / 'versions'}{os.pathsep}{versions}")
    command.upgrade(config, "heads")


def serve_one_keyed_call(
    start_workers: Callable[..., WorkerPool], producer: Celery, url: str, key: str
) -> None:
    start_workers(concurrency=1, env={"DATABASE_URL": url})
    assert call(producer, params={"k": key}, idempotency_key=key).get(timeout=30) == {"k": key}


def test_this_code_starts_and_serves_on_a_newer_schema_that_serves_it(
    start_workers: Callable[..., WorkerPool], producer: Celery, database: str, tmp_path: Path
) -> None:
    upgrade_to_next_release(database, tmp_path / "versions", serves_from=str(head_revision()))
    engine = make_engine(database)
    assert current_revision(engine) == "9001"
    engine.dispose()
    serve_one_keyed_call(start_workers, producer, database, "order-rollback-1")


def test_this_code_refuses_a_newer_schema_that_does_not_serve_it(
    database: str, tmp_path: Path
) -> None:
    upgrade_to_next_release(database, tmp_path / "versions", serves_from="9001")
    engine = make_engine(database)
    with pytest.raises(SchemaAhead, match="roll out the newer release's code"):
        ensure_compatible(engine)
    engine.dispose()


def test_this_code_starts_and_serves_on_the_schema_before_its_own_additive_migration(
    start_workers: Callable[..., WorkerPool], producer: Celery, database: str
) -> None:
    engine = make_engine(database)
    upgrade(engine, "0005")
    engine.dispose()
    serve_one_keyed_call(start_workers, producer, database, "order-rollout-1")
