"""The one clock of decisions: wall-clock UTC, injected wherever a decision reads the time.

Components take a ``Clock`` instead of calling ``datetime.now`` themselves, so tests move time
by handing in their own and every module agrees on what "now" means.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
