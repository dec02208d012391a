"""What to do with an idempotency key, decided from plain values: no I/O, no clock of its own.

Before a call ``decide_key`` reads the key's ledger row and answers: hand back the recorded
outcome, refuse a conflicting request, send, hold while the task sending it right now works,
reconcile through the status method, or leave it unresolved (``OutcomeUnknown``). What a send's
answer means is judged on the wire (``worker.paynet.verdicts.judge_send``); what a status call
says, here: ``judge_status``, then ``after_status`` for what to do about it.

Timing, all in the database's time (``LedgerRecord.now``, never a host clock). A sender claims
the key with a lease of one send deadline plus ``settle_delay``; a sender that got no usable
answer shortens it to ``settle_delay``. Past the lease the key is reconciled. "Found" settles it
at once. "Not found" is believed only once the status method's ``max_processing`` has passed
since the last send: before that Paynet may still be working on it, so the status is asked
again, with backoff. A run of the task is killed past its hard time limit, which
``max_processing`` exceeds (the settings check it), so by then no send of this key is alive.
Status calls that cannot tell go on for ``reconcile_timeout`` after the window; then the key is
``unknown``, for good: the gateway never sends it again by itself.
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
# A key sent this often without an outcome (each send then shown not executed) is not sent
# again: that is a message that kills its worker every time (with task_reject_on_worker_lost it
# would loop), not bad luck. Claims released because nothing was sent do not count.
MAX_SENDS = 10
# Implementation-defined JSON-RPC server error codes (-32000 to -32099) for outcomes that the
# gateway records itself, so a producer tells them from Paynet's own codes.
NOT_SUCCEEDED = -32001  # the status method reports the transaction in a state not a success
SETTLED_NOT_EXECUTED = -32002  # an operator settled the key: it did not execute at Paynet
NOT_SENT_AGAIN = -32003  # sent MAX_SENDS times, each shown not executed: given up, not executed


@dataclass(frozen=True)
class LedgerWait:
    """Carried in the task's ``_ledger`` kwarg across retries (Celery's counter is not ours)."""

    polls: int = 0  # countdown retries spent waiting on another sender or a settle delay
    checks: int = 0  # status calls so far that could not tell, or said "not found" too early

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


@dataclass(frozen=True)
class Exhausted:
    """Never executed, and not to be sent again: record ``outcome`` (a definite failure)."""

    outcome: jsonrpc.RpcError


Step = Recorded | Conflict | Send | Hold | Reconcile | Unresolved | Exhausted


def poll_delay(polls: int) -> float:
    return step(polls + 1, POLL_FIRST, POLL_MAX)


def decide_key(
    record: LedgerRecord,
    fingerprint: Fingerprint,
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
    if record.state is State.UNKNOWN:
        return Unresolved(f"left unknown ({record.detail or 'no definite answer'})")
    if record.state is State.RECEIVED:
        if record.sends >= MAX_SENDS:
            return Exhausted(exhausted(record.sends))
        return Send()
    remaining = ((record.check_after or record.updated_at) - record.now).total_seconds()
    if remaining > 0:
        reason = "letting Paynet settle" if record.detail else "another task is sending it"
        return Hold(min(remaining, poll_delay(wait.polls)), wait.polled(), reason)
    if not reconcilable:
        return Unresolved(
            f"sent to Paynet ({record.detail or 'its sender was lost'}) with no outcome "
            f"recorded, and {record.fingerprint.method} has no status method to reconcile it: "
            "it may have executed at Paynet"
        )
    return Reconcile()


# What a status call says, and what to do about it.


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
        if status.state_field is not None:
            value = exchange.value
            if not isinstance(value, dict) or status.state_field not in value:
                return Inconclusive(
                    f"{status.method} answered a transaction without {status.state_field!r}"
                )
        return Found(exchange)
    if isinstance(exchange, jsonrpc.RpcError):
        if exchange.code in unauthorized_codes:
            return Rejected()
        if exchange.code in status.not_found_codes:
            return NotFound(f"{status.method} answered {exchange.code} {exchange.message}")
        return Inconclusive(f"{status.method} answered {exchange.code} {exchange.message}")
    return Inconclusive(f"{status.method} failed ({exchange})")


def found_outcome(found: Found, status: StatusMethod) -> jsonrpc.Answer:
    """A found transaction is a success only in a success state; else a failure naming it."""
    if status.state_field is None:
        return found.outcome
    state = found.outcome.value[status.state_field]
    if state in status.succeeded_states:
        return found.outcome
    return jsonrpc.RpcError(
        NOT_SUCCEEDED,
        f"{status.method} reports the transaction in state {state!r}, not a success",
        found.outcome.value,
    )


def exhausted(sends: int) -> jsonrpc.RpcError:
    """A ``received`` row was shown not executed after each of its ``sends``: the truth is a
    failure that did not execute, and the producer's next step a new key."""
    return jsonrpc.RpcError(
        NOT_SENT_AGAIN,
        f"not executed at Paynet: sent {sends} times without an answer and each time shown "
        "not executed (is a worker dying on it?); not sent again: find the cause, then send "
        "it under a new idempotency key",
        {"sends": sends},
    )


def operator_outcome(transaction_id: str | None, reason: str | None) -> jsonrpc.Answer:
    """What an operator's decision hands to every later delivery or resubmission of the key."""
    if transaction_id is not None:
        result: dict[str, Any] = {"transactionId": transaction_id, "settledBy": "operator"}
        return jsonrpc.RpcResult({**result, "reason": reason} if reason else result)
    return jsonrpc.RpcError(
        SETTLED_NOT_EXECUTED,
        f"settled by an operator: not executed at Paynet ({reason}); "
        "send it again under a new idempotency key",
        {"settledBy": "operator", "reason": reason},
    )


@dataclass(frozen=True)
class Settle:
    outcome: jsonrpc.Answer


@dataclass(frozen=True)
class Reopen:
    pass


AfterStatus = Settle | Reopen | Hold | Unresolved


def window_end(record: LedgerRecord, status: StatusMethod) -> datetime:
    """Until then, "not found" may only mean that Paynet is still processing the last send."""
    sent = record.sent_at or record.updated_at
    return sent + timedelta(seconds=status.max_processing)


def after_status(
    verdict: Found | NotFound | Inconclusive,
    record: LedgerRecord,
    status: StatusMethod,
    policy: LedgerSettings,
    wait: LedgerWait | None = None,
    rand: float | None = None,
) -> AfterStatus:
    """Settle on "found"; send again on "not found" once the window passed; else ask later."""
    wait = wait or LedgerWait()
    if isinstance(verdict, Found):
        return Settle(found_outcome(verdict, status))
    window = window_end(record, status)
    checks = wait.checks + 1
    delay = backoff(checks, CHECK_BACKOFF_FIRST, CHECK_BACKOFF_MAX, rand)
    later = replace(wait, checks=checks)
    if isinstance(verdict, NotFound):
        if record.now >= window:
            return Reopen()
        remaining = (window - record.now).total_seconds()
        return Hold(min(delay, remaining), later, "not found yet: Paynet may still process it")
    deadline = window + timedelta(seconds=policy.reconcile_timeout)
    if record.now >= deadline:
        return Unresolved(
            f"{checks} status calls could not tell within {policy.reconcile_timeout:g} s "
            f"after the processing window whether it executed at Paynet (last: {verdict.detail})"
        )
    remaining = (deadline - record.now).total_seconds()
    return Hold(min(delay, remaining), later, "status unclear")
