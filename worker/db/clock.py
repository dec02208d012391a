"""The database's clock: the one time every host agrees on.

Leases, expiries, cool-downs and wait bounds are compared across hosts, so they are stamped
and compared in the database's time, never a host's: ``db_time`` writes it into statements,
``DatabaseClock`` reads it with the rows and, in between, estimates it from the host's clock
and the offset last seen (so a host whose clock is minutes off still decides by the database).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, Interval, func, literal, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from worker.core.clock import Clock, as_utc, utcnow
from worker.core.outages import DATABASE_ERRORS


def db_time(dialect: str, plus: float = 0.0) -> ColumnElement[datetime]:
    """The database's own time (plus ``plus`` seconds), as an SQL expression."""
    expr: ColumnElement[Any]
    if dialect == "sqlite":  # UTC, to the millisecond
        expr = func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{plus:+.3f} seconds")
    else:
        expr = func.statement_timestamp() + literal(timedelta(seconds=plus), Interval())
    return type_coerce(expr, DateTime(timezone=True))


class DatabaseClock:
    """``now()`` in the database's time: the host's clock plus the offset last observed."""

    def __init__(self, engine: Engine, host: Clock = utcnow) -> None:
        self.engine = engine
        self.host = host
        self._offset: timedelta | None = None
        self._lock = threading.Lock()

    def observe(self, database_now: datetime | None) -> None:
        """A time the database just gave (read along with a row)."""
        if database_now is not None:
            with self._lock:
                self._offset = database_now - self.host()

    def now(self) -> datetime:
        """Never fails: before the database was ever reached, the host's clock stands in."""
        with self._lock:
            offset = self._offset
        if offset is not None:
            return self.host() + offset
        try:
            with self.engine.connect() as conn:
                read = as_utc(conn.execute(select(db_time(self.engine.dialect.name))).scalar())
        except DATABASE_ERRORS:
            return self.host()  # the outage is met, and reported, where the data is read
        self.observe(read)
        return read or self.host()
