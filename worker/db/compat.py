"""The database's own record of which code can use its schema (``worker/db/versions.py``).

One row per migration since 0006: the revision, and the oldest code revision that can still run
on the schema it leaves. A migration calls ``mark`` in its upgrade and ``unmark`` in its
downgrade. The table's name and columns never change: code of every later release reads it.
It is kept out of ``worker.db.tables.metadata``, so that emptying the gateway's tables (the
tests do) leaves it alone.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Engine, MetaData, String, Table, delete, insert, inspect, select

compat_metadata = MetaData()

schema_compat = Table(
    "paynet_schema_compat",
    compat_metadata,
    Column("revision", String(32), primary_key=True),
    Column("oldest_code", String(32), nullable=False),
)


def mark(revision: str, oldest_code: str) -> None:
    """In a migration's upgrade: code from ``oldest_code`` on can use the schema it leaves."""
    op.execute(insert(schema_compat).values(revision=revision, oldest_code=oldest_code))


def unmark(revision: str) -> None:
    """In the same migration's downgrade."""
    op.execute(delete(schema_compat).where(schema_compat.c.revision == revision))


def serves_from(engine: Engine, revision: str) -> str | None:
    """The oldest code revision the database says can use ``revision``; None where it does not
    say (no row, or a schema from before the table)."""
    query = select(schema_compat.c.oldest_code).where(schema_compat.c.revision == revision)
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema_compat.name):
            return None
        return conn.execute(query).scalar_one_or_none()
