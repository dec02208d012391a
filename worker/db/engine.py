"""The SQLAlchemy engine, one per process (rebuilt after fork, never shared across it)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event

# A half-open connection must not hold a task slot, or a ledger lease, for minutes: connecting
# gives up after CONNECT_TIMEOUT, TCP keepalives find a dead peer in about a minute, and no
# statement (each is a single-row read or write) may run longer than STATEMENT_TIMEOUT_MS.
CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 15000
_POSTGRES_ARGS = {
    "connect_timeout": CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
}


def make_engine(url: str, slots: int = 1) -> Engine:
    """``slots``: the tasks this process runs at once (1 under prefork, the concurrency under
    threads or gevent); the connection pool grows with it, and tasks beyond it wait for a
    connection (cooperatively under gevent) rather than opening more."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args = _POSTGRES_ARGS if url.startswith(("postgresql", "postgres:")) else {}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=max(5, min(slots, 20)),
        max_overflow=20,
        connect_args=dict(args),
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
