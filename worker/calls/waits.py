"""The one signal to wait, and the codecs of the wait state that travels in a task's kwargs.

A call that must wait (for a token refresh, for another task sending the same key, for a
payment to settle) raises ``RetryLater``; the task turns it into ``self.retry(countdown=...)``
with the state below in its private kwargs ``_wait`` (token) and ``_ledger`` (ledger), because
Celery's own retry counter would eat the business retry budget. That state comes back through
the broker, so it is sealed (``_seal``: an HMAC over it, the task id and the call's own
arguments, worker/core/seal.py) and its values checked for range: forged or foreign state is
refused with ``InvalidRequest`` before anything is sent. State that is merely old (sealed and
intact, back late by redelivery after the host holding it died) is not refused: its token wait
starts again, so it is served if a token can be had now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from worker.core.seal import Seal
from worker.ledger.fingerprint import canonical_json
from worker.ledger.policy import LedgerWait
from worker.settings import TokenTiming
from worker.tokens.policy import MAX_REFRESH_CYCLES, OUTAGES, TokenWait


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
    """``_ledger`` as the gateway wrote it, or ``ValueError`` naming what is wrong."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"polls", "checks"}:
        raise ValueError("_ledger must be the gateway's own ledger wait state")
    polls, checks = value["polls"], value["checks"]
    if not isinstance(polls, int) or not isinstance(checks, int):
        raise ValueError("_ledger holds values of the wrong type")
    return LedgerWait(polls, checks)


SEAL_KWARG = "_seal"
MAX_COUNT = 1_000_000  # polls, checks: far beyond any real wait, short of an attacker's hope
SINCE_SLACK = 300.0  # seconds of clock difference a wait's start may show ahead of now
# A run comes back at most a poll step after its wait's bound; one later than this slack spent
# the time elsewhere (held by a host that died, then redelivered): its wait starts again.
LATE_SLACK = 10.0


def _payload(task_id: str, call: Mapping[str, Any], wait: Any, ledger: Any) -> dict[str, Any]:
    digest = hashlib.sha256(canonical_json(dict(call)).encode()).hexdigest()
    return {"task": task_id, "call": digest, "wait": wait, "ledger": ledger}


def seal_state(seal: Seal, task_id: str, call: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    """The ``_seal`` of the private kwargs ``state`` for a retry of ``task_id`` with ``call``."""
    return seal.sign(_payload(task_id, call, state.get("_wait"), state.get("_ledger")))


def open_state(
    seal: Seal,
    task_id: str,
    call: Mapping[str, Any],
    private: Mapping[str, Any],
    policy: TokenTiming,
    now: float,
) -> tuple[TokenWait | None, LedgerWait | None]:
    """The wait state of a run, or ``ValueError`` naming ``_wait`` or ``_ledger``; ``now`` is
    the database's time (epoch seconds)."""
    wait_value, ledger_value = private.get("_wait"), private.get("_ledger")
    if wait_value is None and ledger_value is None:
        return None, None
    payload = _payload(task_id, call, wait_value, ledger_value)
    if not seal.verify(payload, private.get(SEAL_KWARG)):
        name = "_wait" if wait_value is not None else "_ledger"
        raise ValueError(f"{name}: not the gateway's own wait state for this task (bad seal)")
    wait = token_wait_from_kwargs(wait_value)
    ledger = ledger_wait_from_kwargs(ledger_value)
    if wait is not None:
        wait = _check_wait(wait, policy, now)
    if ledger is not None and not (
        0 <= ledger.polls <= MAX_COUNT and 0 <= ledger.checks <= MAX_COUNT
    ):
        raise ValueError("_ledger holds counts out of range")
    return wait, ledger


def _check_wait(wait: TokenWait, policy: TokenTiming, now: float) -> TokenWait:
    """The wait to go on with: ``ValueError`` if it cannot be the gateway's, started again if
    it came back later than any wait of the gateway's own would (the time it spent in a dead
    host's memory is not time spent waiting for a token)."""
    if wait.since > now + SINCE_SLACK:
        raise ValueError("_wait began at a time out of range")
    if wait.stale_generation < 0 or not 0 <= wait.cycles <= MAX_REFRESH_CYCLES + 1:
        raise ValueError("_wait holds counts out of range")
    if now - wait.since > policy.wait_timeout + LATE_SLACK:
        return replace(wait, since=now, cause=None)
    return wait
