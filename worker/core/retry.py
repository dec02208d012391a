"""Database outages (a restart, a dropped connection) retried with backoff, within a bound.

A payment must never fail, or be lost, because PostgreSQL dropped a connection for a moment:
``pg_terminate_backend``, a failover or a restart each surface as one ``OperationalError`` on
the statement that was running. The operations handed to ``retrying`` are written so that
running them again is safe even when the first try did commit (see ``worker/ledger/store.py``).
Past the bound the outage is an ``Unavailable`` like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from worker.core.backoff import backoff
from worker.core.causes import Cause
from worker.core.outages import Unavailable, database_outage, first_line

log = logging.getLogger("worker.database")

T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 2.0


def retrying(
    operation: Callable[[], T],
    what: str,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``operation``; on an outage wait and run it again until ``timeout`` passes."""
    deadline = clock() + timeout
    attempt = 0
    while True:
        try:
            return operation()
        except DBAPIError as exc:
            if not database_outage(exc):
                raise
            attempt += 1
            delay = backoff(attempt, FIRST_DELAY, MAX_DELAY)
            reason = first_line(exc)
            if clock() + delay > deadline:
                log.error(
                    "database unavailable: %s failed %d times within %gs, giving up: %s",
                    what,
                    attempt,
                    timeout,
                    reason,
                )
                raise Unavailable(
                    Cause.DATABASE_UNAVAILABLE,
                    f"the database did not answer {what} within {timeout:g} s ({reason})",
                ) from None
            log.warning(
                "database fault during %s (attempt %d), retrying in %.2fs: %s",
                what,
                attempt,
                delay,
                reason,
            )
            sleep(delay)
