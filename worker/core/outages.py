"""Redis or the database out of reach: one classifier, translated once into ``Unavailable``.

Every path must turn an outage into a wait and then a clear error, never an unhandled
``redis.ConnectionError`` or ``OperationalError``. Only errors that mean "cannot reach the
server" count; a wrong query or script still surfaces as the bug it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.exceptions
import sqlalchemy.exc

from worker.core.causes import Cause

REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,  # refused, reset, DNS, loading
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica after a failover
)
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,  # refused, server gone, connection lost mid-query
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection within the pool timeout
)
_DETAIL_LIMIT = 200


class Unavailable(Exception):
    """Redis or the database could not be reached; ``detail`` is safe to log."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(cause, detail)
        self.cause = cause
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.cause.value}: {self.detail}"


def database_outage(exc: BaseException) -> bool:
    """The database could not be reached, or dropped the connection: worth another try."""
    if isinstance(exc, DATABASE_ERRORS):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and bool(exc.connection_invalidated)


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only: SQLAlchemy appends the SQL and parameters."""
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    text = lines[0] if lines else ""
    name = type(origin).__name__
    return f"{name}: {text[:_DETAIL_LIMIT]}" if text else name


@contextmanager
def translated() -> Iterator[None]:
    """Raise ``Unavailable`` for a Redis or database outage inside the block."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise Unavailable(Cause.REDIS_UNAVAILABLE, first_line(exc)) from None
    except sqlalchemy.exc.DBAPIError as exc:
        if not database_outage(exc):
            raise
        raise Unavailable(Cause.DATABASE_UNAVAILABLE, first_line(exc)) from None
    except DATABASE_ERRORS as exc:
        raise Unavailable(Cause.DATABASE_UNAVAILABLE, first_line(exc)) from None
