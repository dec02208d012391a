"""The Redis + database pair a test session or demo runs against.

One entry point picks real services when CI provides them (``REDIS_URL``,
``DATABASE_URL``) and embedded ones otherwise, so the same tests run on a
machine with only Python and on CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devservices.isolated import create_scratch_database, drop_scratch_database, flush_redis
from devservices.postgres_server import PostgresServer
from devservices.redis_server import RedisServer
from devservices.urls import is_postgres_url, is_sqlite_url, postgres_url, render_url

SQLITE_NAME = "paynet.db"


@dataclass(frozen=True)
class Services:
    """Where to connect. ``redis`` is the embedded server (restart/kill it to
    simulate outages), None when ``REDIS_URL`` was used; ``postgres_admin_url``
    names the server holding the scratch database, None for SQLite."""

    redis_url: str
    database_url: str
    redis: RedisServer | None
    postgres_admin_url: str | None
    postgres: PostgresServer | None = None  # the embedded server (restart it), else None


@contextmanager
def services(
    workdir: Path, *, want_postgres: bool = True, flush_shared_redis: bool = False
) -> Iterator[Services]:
    """Provide Redis and a database; stop or drop everything made, also on errors.

    Redis: ``REDIS_URL`` is used as is and nothing is flushed, since that
    server may hold other sessions' data; pass ``flush_shared_redis=True`` (or
    call ``flush_redis``) only when the database it names is yours. Unset, an
    embedded server is started with its files in ``workdir/redis``.

    Database: a PostgreSQL ``DATABASE_URL`` gets a fresh scratch database that
    is dropped on exit; a SQLite one is used as is. Unset, an embedded
    PostgreSQL is started (with a scratch database, the same code path) when
    ``want_postgres``, else a SQLite file ``workdir/paynet.db`` is used.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis_url, redis_server = _redis(stack, workdir, flush_shared_redis)
        database_url, admin_url, postgres = _database(stack, workdir, want_postgres)
        yield Services(
            redis_url=redis_url,
            database_url=database_url,
            redis=redis_server,
            postgres_admin_url=admin_url,
            postgres=postgres,
        )


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _redis(stack: ExitStack, workdir: Path, flush: bool) -> tuple[str, RedisServer | None]:
    shared = _env("REDIS_URL")
    if shared:
        if flush:
            flush_redis(shared)
        return shared, None
    server = stack.enter_context(RedisServer(workdir / "redis"))
    return server.url, server


def _database(
    stack: ExitStack, workdir: Path, want_postgres: bool
) -> tuple[str, str | None, PostgresServer | None]:
    given = _env("DATABASE_URL")
    if given:
        if is_sqlite_url(given):
            return given, None, None
        if is_postgres_url(given):
            admin_url = render_url(postgres_url(given))
            return _scratch(stack, admin_url), admin_url, None
        raise ValueError("DATABASE_URL must be a PostgreSQL or SQLite URL")
    if want_postgres:
        server = stack.enter_context(PostgresServer())
        return _scratch(stack, server.url), server.url, server
    return f"sqlite:///{(workdir / SQLITE_NAME).resolve()}", None, None


def _scratch(stack: ExitStack, admin_url: str) -> str:
    url = create_scratch_database(admin_url)
    stack.callback(drop_scratch_database, url, admin_url=admin_url)
    return url
