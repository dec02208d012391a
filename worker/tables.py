"""The database schema, as SQLAlchemy Core tables; Alembic migrations create it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row per profile: the current token (encrypted), its generation, and the last login failure.
tokens = Table(
    "paynet_tokens",
    metadata,
    Column("profile", String(64), primary_key=True),
    Column("token_ciphertext", Text, nullable=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("issued_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("failure_cause", String(32), nullable=True),
    Column("failure_detail", Text, nullable=True),
    Column("failure_at", DateTime(timezone=True), nullable=True),
    Column("failure_permanent", Boolean, nullable=False, default=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
)
