"""Transient database faults (a restart, a dropped connection) retried with backoff, in a bound.

A payment must never fail, or be lost, because PostgreSQL dropped a connection for a moment:
``pg_terminate_backend``, a failover or a restart each surface as one ``OperationalError`` on
the statement that was running. The operations handed to ``retrying`` are written so that
running them again is safe even when the first try did commit (see ``worker/ledger_store.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from worker.token_flow import backoff

log = logging.getLogger("worker.database")

T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 2.0


class DatabaseUnavailable(Exception):
    """The database did not answer within the retry bound; the message names the operation."""


def is_transient(exc: BaseException) -> bool:
    """Connection lost, server restarting, lock timeout: worth another try."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def short_reason(exc: DBAPIError) -> str:
    """The driver's first line, without SQLAlchemy's statement and parameters."""
    original = exc.orig if exc.orig is not None else exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first[:200]}"


def retrying(
    operation: Callable[[], T],
    what: str,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``operation``; on a transient fault wait and run it again until ``timeout`` passes."""
    deadline = clock() + timeout
    attempt = 0
    while True:
        try:
            return operation()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            delay = backoff(attempt, FIRST_DELAY, MAX_DELAY)
            reason = short_reason(exc)
            if clock() + delay > deadline:
                log.error(
                    "database unavailable: %s failed %d times within %gs, giving up: %s",
                    what,
                    attempt,
                    timeout,
                    reason,
                )
                raise DatabaseUnavailable(
                    f"the database did not answer {what} within {timeout:g} s ({reason})"
                ) from None
            log.warning(
                "database fault during %s (attempt %d), retrying in %.2fs: %s",
                what,
                attempt,
                delay,
                reason,
            )
            sleep(delay)
