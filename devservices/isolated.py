"""Isolate one session on a shared server: scratch PostgreSQL databases, Redis flush.

On CI the machine's real PostgreSQL and Redis are shared by every session that
runs at the same time, so each session works in a database of its own and
drops it afterwards.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from devservices.urls import POSTGRES_DRIVER, postgres_url, render_url

SCRATCH_PREFIX = "paynet_test_"
_SCRATCH_NAME = re.compile(rf"^{SCRATCH_PREFIX}[0-9a-f]{{8}}$")
_DUPLICATE_DATABASE = "42P04"
_OBJECT_IN_USE = "55006"
_CREATE_ATTEMPTS = 3
_DROP_ATTEMPTS = 5
_CONNECT_TIMEOUT_S = 10


def is_scratch_name(name: str) -> bool:
    """True for names made by ``create_scratch_database`` (and only those)."""
    return bool(_SCRATCH_NAME.match(name))


def create_scratch_database(admin_url: str) -> str:
    """Create ``paynet_test_<8 hex>`` on the server of ``admin_url``; return its URL.

    ``admin_url`` names any database the role may connect to (e.g.
    ``postgresql://127.0.0.1:5432/test``); a bare ``postgresql://`` means
    psycopg2. The copy is made from ``template0``, which nobody can be
    connected to, so concurrent sessions never hit "source database is being
    accessed by other users".
    """
    admin = postgres_url(admin_url)
    for attempt in range(_CREATE_ATTEMPTS):
        name = f"{SCRATCH_PREFIX}{secrets.token_hex(4)}"
        try:
            with _admin_connection(admin) as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        except sa.exc.ProgrammingError as exc:
            if _pgcode(exc) != _DUPLICATE_DATABASE or attempt == _CREATE_ATTEMPTS - 1:
                raise
            continue
        return render_url(admin.set(database=name))
    raise AssertionError("unreachable")


def drop_scratch_database(url: str, *, admin_url: str | None = None) -> None:
    """Terminate every connection to the scratch database of ``url`` and drop it.

    Connects to ``admin_url`` if given, else to ``postgres`` (then
    ``template1``) on the same server. Refuses names that
    ``create_scratch_database`` would not make, so a misconfigured URL can
    never drop a real database. Dropping a missing database is not an error.
    """
    target = postgres_url(url)
    name = target.database or ""
    if not is_scratch_name(name):
        raise ValueError(f"refusing to drop {name!r}: not a {SCRATCH_PREFIX}* scratch database")
    candidates = (
        [postgres_url(admin_url)]
        if admin_url
        else [target.set(database="postgres"), target.set(database="template1")]
    )
    last_error: Exception | None = None
    for admin in candidates:
        try:
            with _admin_connection(admin) as conn:
                _terminate_and_drop(conn, name)
            return
        except sa.exc.OperationalError as exc:
            if _pgcode(exc) == _OBJECT_IN_USE:
                raise
            last_error = exc  # cannot connect to this admin database: try the next
    if last_error is None:
        raise RuntimeError("no admin database to try")
    raise last_error


def flush_redis(url: str) -> None:
    """Empty the one Redis database that ``url`` names (FLUSHDB, not FLUSHALL)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _terminate_and_drop(conn: Connection, name: str) -> None:
    force = " WITH (FORCE)" if (conn.dialect.server_version_info or (0,)) >= (13,) else ""
    for attempt in range(_DROP_ATTEMPTS):
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        try:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')
            return
        except sa.exc.OperationalError as exc:
            # Before PostgreSQL 13 a pooled client may reconnect in between.
            if _pgcode(exc) != _OBJECT_IN_USE or attempt == _DROP_ATTEMPTS - 1:
                raise


@contextmanager
def _admin_connection(admin: URL) -> Iterator[Connection]:
    """An autocommit connection (CREATE/DROP DATABASE refuse transactions)
    whose engine is disposed on exit, so no pooled connection lingers."""
    connect_args: dict[str, object] = {}
    if admin.drivername == POSTGRES_DRIVER and "connect_timeout" not in admin.query:
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_S
    engine = sa.create_engine(
        admin, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
    )
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _pgcode(exc: sa.exc.DBAPIError) -> str | None:
    code = getattr(exc.orig, "pgcode", None)
    return code if isinstance(code, str) else None
