"""What to do with an idempotency key, decided from plain values: no I/O, no clock of its own.

Before a call ``decide_key`` reads the key's ledger row and answers: hand back the recorded
outcome, refuse a conflicting request, send, hold while the task sending it right now works,
reconcile through the status method, or leave it unresolved (``OutcomeUnknown``). What a send's
answer means is judged on the wire (``worker.paynet.verdicts.judge_send``); after a status call
``judge_status`` says found, not found, or cannot tell.

Timing. A sender claims the key and talks to Paynet for at most ``connect + read`` seconds; a
reconciler may look only after that, plus ``settle_delay`` for a request Paynet may still be
processing, so that a payment in flight is never taken for one that was lost (``lease_end``).
A sender that gave up on its answer (read timeout, malformed answer) sets the same mark to its
own time plus ``settle_delay``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from worker.core.backoff import backoff, step
from worker.ledger.fingerprint import Fingerprint
from worker.ledger.record import FINISHED, LedgerRecord, State
from worker.paynet import jsonrpc
from worker.paynet.verdicts import Exchange, Rejected
from worker.settings import LedgerSettings, StatusMethod

POLL_FIRST = 0.1  # seconds before looking at a key another task is sending, doubling
POLL_MAX = 2.0  # and never longer, so a countdown message stays far below the visibility timeout
CHECK_BACKOFF_FIRST = 0.5  # between status calls that could not tell
CHECK_BACKOFF_MAX = 5.0
# A key claimed this often without an outcome is not sent again: that is a message that kills
# its worker every time (with task_reject_on_worker_lost it would loop), not bad luck.
MAX_SENDS = 10


@dataclass(frozen=True)
class LedgerWait:
    """Carried in the task's ``_ledger`` kwarg across retries (Celery's counter is not ours)."""

    polls: int = 0  # countdown retries spent waiting on another sender or a settle delay
    checks: int = 0  # status calls so far that could not tell
    first_check: float | None = None  # epoch seconds of the first of them

    def polled(self) -> LedgerWait:
        return replace(self, polls=self.polls + 1)


# What to do with the key.


@dataclass(frozen=True)
class Recorded:
    outcome: jsonrpc.Answer


@dataclass(frozen=True)
class Conflict:
    differences: tuple[str, ...]


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Hold:
    countdown: float
    wait: LedgerWait
    reason: str


@dataclass(frozen=True)
class Reconcile:
    pass


@dataclass(frozen=True)
class Unresolved:
    reason: str


Step = Recorded | Conflict | Send | Hold | Reconcile | Unresolved


def poll_delay(polls: int) -> float:
    return step(polls + 1, POLL_FIRST, POLL_MAX)


def lease_end(now: datetime, connect: float, read: float, settle_delay: float) -> datetime:
    """When a claim made ``now`` may be reconciled if no outcome was recorded by then."""
    return now + timedelta(seconds=connect + read + settle_delay)


def decide_key(
    record: LedgerRecord,
    fingerprint: Fingerprint,
    now: datetime,
    reconcilable: bool,
    wait: LedgerWait | None = None,
) -> Step:
    """The next step for a key whose row is ``record``; ``reconcilable``: a status call exists."""
    wait = wait or LedgerWait()
    differences = record.fingerprint.differences(fingerprint)
    if differences:
        return Conflict(tuple(differences))
    if record.state in FINISHED:
        if record.outcome is None:
            return Unresolved(f"the ledger says {record.state} but holds no outcome")
        return Recorded(record.outcome)
    if record.state is State.RECEIVED:
        if record.attempts >= MAX_SENDS:
            return Unresolved(
                f"claimed for sending {record.attempts} times without an outcome being "
                "recorded (is a worker dying on it?); not sent again"
            )
        return Send()
    due = record.check_after or record.updated_at
    remaining = (due - now).total_seconds()
    if record.state is State.SENT and remaining > 0:
        countdown = min(remaining, poll_delay(wait.polls))
        return Hold(countdown, wait.polled(), "another task is sending it")
    if not reconcilable:
        return Unresolved(
            f"sent to Paynet ({record.detail or 'its sender was lost'}) with no outcome "
            f"recorded, and {record.fingerprint.method} has no status method to reconcile it: "
            "it may have executed at Paynet"
        )
    if remaining > 0:
        return Hold(min(remaining, poll_delay(wait.polls)), wait.polled(), "letting Paynet settle")
    return Reconcile()


# What a status call says.


@dataclass(frozen=True)
class Found:
    outcome: jsonrpc.RpcResult


@dataclass(frozen=True)
class NotFound:
    detail: str


@dataclass(frozen=True)
class Inconclusive:
    detail: str


StatusVerdict = Found | NotFound | Inconclusive | Rejected


def status_params(params: dict[str, Any], status: StatusMethod) -> dict[str, Any] | None:
    """The status call's params (the payment's own id), or None where the payment has none."""
    value = params.get(status.id_param)
    if value is None or isinstance(value, bool | dict | list) or value == "":
        return None
    return {status.id_param: value}


def judge_status(
    exchange: Exchange, status: StatusMethod, unauthorized_codes: tuple[int, ...]
) -> StatusVerdict:
    if isinstance(exchange, jsonrpc.RpcResult):
        if exchange.value is None:
            return Inconclusive(f"{status.method} answered an empty result")
        return Found(exchange)
    if isinstance(exchange, jsonrpc.RpcError):
        if exchange.code in unauthorized_codes:
            return Rejected()
        if exchange.code in status.not_found_codes:
            return NotFound(f"{status.method} answered {exchange.code} {exchange.message}")
        return Inconclusive(f"{status.method} answered {exchange.code} {exchange.message}")
    return Inconclusive(f"{status.method} failed ({exchange})")


def after_inconclusive(
    wait: LedgerWait | None, now: float, policy: LedgerSettings, rand: float | None = None
) -> Hold | Unresolved:
    """Another status call later, until ``reconcile_timeout`` has passed since the first."""
    wait = wait or LedgerWait()
    first = wait.first_check if wait.first_check is not None else now
    checks = wait.checks + 1
    elapsed = now - first
    if elapsed >= policy.reconcile_timeout:
        return Unresolved(
            f"{checks} status calls could not tell within {policy.reconcile_timeout:g} s "
            "whether it executed at Paynet"
        )
    delay = backoff(checks, CHECK_BACKOFF_FIRST, CHECK_BACKOFF_MAX, rand)
    countdown = min(delay, policy.reconcile_timeout - elapsed)
    return Hold(countdown, replace(wait, checks=checks, first_check=first), "status unclear")
