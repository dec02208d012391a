"""The one signal to wait, and the codecs of the wait state that travels in a task's kwargs.

A call that must wait (for a token refresh, for another task sending the same key, for a
payment to settle) raises ``RetryLater``; the task turns it into ``self.retry(countdown=...)``
with the state below in its private kwargs ``_wait`` (token) and ``_ledger`` (ledger), because
Celery's own retry counter would eat the business retry budget. What comes back in those kwargs
is input like any other and is checked here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from worker.ledger.policy import LedgerWait
from worker.tokens.policy import OUTAGES, TokenWait


class RetryLater(Exception):
    """Run the task again in ``countdown`` seconds, carrying the token and ledger wait state."""

    def __init__(
        self, countdown: float, token: TokenWait | None, ledger: LedgerWait | None = None
    ) -> None:
        super().__init__(countdown, token, ledger)
        self.countdown = countdown
        self.token = token
        self.ledger = ledger

    def to_kwargs(self) -> dict[str, Any]:
        """The task's private kwargs for the retry: ``_wait`` (token), ``_ledger`` (ledger)."""
        kwargs: dict[str, Any] = {}
        if self.token is not None:
            kwargs["_wait"] = asdict(self.token)
        if self.ledger is not None:
            kwargs["_ledger"] = asdict(self.ledger)
        return kwargs


def token_wait_from_kwargs(value: Any) -> TokenWait | None:
    """``_wait`` as the gateway wrote it, or ``ValueError`` naming what is wrong."""
    if value is None:
        return None
    keys = {"since", "stale_generation", "cycles"}
    if not isinstance(value, dict) or set(value) - {"cause"} != keys:
        raise ValueError("_wait must be the gateway's own wait state")
    since, stale, cycles = value["since"], value["stale_generation"], value["cycles"]
    if not isinstance(since, int | float) or not isinstance(stale, int):
        raise ValueError("_wait holds values of the wrong type")
    if not isinstance(cycles, int):
        raise ValueError("_wait holds values of the wrong type")
    cause = value.get("cause")
    if cause is not None and cause not in {outage.value for outage in OUTAGES}:
        raise ValueError("_wait holds an unknown cause")
    return TokenWait(float(since), stale, cycles, cause)


def ledger_wait_from_kwargs(value: Any) -> LedgerWait | None:
    """``_ledger`` as the gateway wrote it, or ``ValueError`` naming what is wrong.

    (``first_check``, which messages of an earlier version carry, is accepted and ignored: the
    reconcile deadline is now the database's.)"""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"first_check"} != {"polls", "checks"}:
        raise ValueError("_ledger must be the gateway's own ledger wait state")
    polls, checks = value["polls"], value["checks"]
    if not isinstance(polls, int) or not isinstance(checks, int):
        raise ValueError("_ledger holds values of the wrong type")
    return LedgerWait(polls, checks)
