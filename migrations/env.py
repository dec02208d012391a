"""Alembic environment: the URL comes from the caller (``paynet-gateway db upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from worker.db.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = create_engine(url or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
