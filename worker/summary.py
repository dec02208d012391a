"""What a value from Paynet may show of itself where people read: log lines and task events.

A payment's result, and the data of Paynet's error about it, hold its fields, amounts and phone
numbers. Celery's log lines and the task events that Flower shows get a summary instead: the
identifiers and statuses an operator looks for, and how many fields there are. The producer gets
the whole value from the result backend. Imports nothing of the gateway: the contract's
exceptions (``worker.errors``) use it as the task reprs (``worker.calls.reprs``) do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LIMIT = 120
# Only members the public trace of Paynet's answer shows (transactionId, status): no other may be
# assumed to be harmless to show.
SHOWN_KEYS = ("transactionId", "status")


def short(value: Any) -> Any:
    """A string cut to ``LIMIT`` characters; anything else as it is."""
    if isinstance(value, str) and len(value) > LIMIT:
        return value[:LIMIT] + "..."
    return value


def summary(value: Any, label: str) -> str:
    """``<label: transactionId=... status=..., 5 fields>``; lists and scalars by their type only."""
    if isinstance(value, Mapping):
        shown = [
            f"{key}={short(value[key])}"
            for key in SHOWN_KEYS
            if key in value
            and isinstance(value[key], int | str)
            and not isinstance(value[key], bool)
        ]
        head = " ".join(shown)
        return f"<{label}: {head + ', ' if head else ''}{len(value)} fields>"
    if isinstance(value, list):
        return f"<{label}: a list of {len(value)}>"
    if value is None:
        return f"<{label}: none>"
    return f"<{label}: a {type(value).__name__}>"
