"""The database schema, as SQLAlchemy Core tables; Alembic migrations create it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
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
    # Fencing (worker/tokens/store.py): the last number a login took, and the stored token's.
    Column("login_fence", Integer, nullable=False, default=0, server_default="0"),
    Column("token_fence", Integer, nullable=False, default=0, server_default="0"),
)

LEDGER_STATES = ("received", "sent", "succeeded", "failed", "unknown")

# One row per idempotency key: what was asked (the fingerprint), how far it got (the state), and
# what Paynet answered. Every state change is one conditional UPDATE (worker/ledger/store.py).
ledger = Table(
    "paynet_ledger",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("profile", String(64), nullable=False),
    Column("path", String(200), nullable=False),
    Column("method", String(100), nullable=False),
    Column("params_sha256", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", Text, nullable=True),  # JSON: {"result": ...} or {"error": {...}}
    Column("detail", Text, nullable=True),  # why it is in this state, for operators
    Column("attempts", Integer, nullable=False, default=0),  # times claimed for sending
    # of those, claims released because provably nothing was sent (not a give-up reason)
    Column("releases", Integer, nullable=False, default=0, server_default="0"),
    Column("owner", String(100), nullable=True),  # "<task id>:<claim nonce>" of the last claim
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("check_after", DateTime(timezone=True), nullable=True),  # earliest reconciliation
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("agent_id", String(200), nullable=True),  # the payment's own id: for its status call
    Column("settled_by", String(32), nullable=True),  # "operator": decided by hand, not by Paynet
    CheckConstraint(
        "state IN ('received', 'sent', 'succeeded', 'failed', 'unknown')",
        name="ck_paynet_ledger_state",
    ),
    Index("ix_paynet_ledger_state_updated", "state", "updated_at"),
)
