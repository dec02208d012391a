"""What to do with an idempotency key, decided from plain values: no I/O, no clock of its own.

Before a call ``decide_key`` reads the key's ledger row and answers: hand back the recorded
outcome, refuse a conflicting request, send, hold while the task sending it right now works,
reconcile through the status method, or leave it unresolved (``OutcomeUnknown``). What a send's
answer means is judged on the wire (``worker.paynet.verdicts.judge_send``); what a status call
says, here: ``judge_status``, then ``after_status`` for what to do about it.

Timing, all in the database's time (``LedgerRecord.now``, never a host clock). A sender claims
the key with a lease of one send deadline plus ``settle_delay``; a sender that got no usable
answer shortens it to ``settle_delay``. Past the lease the key is reconciled. "Found", a
transaction whose status the settings list as succeeded (its record is the result) or failed
(``NOT_SUCCEEDED``), settles it at once; a status in progress, in no list or missing cannot
tell, and is never guessed at. "Not found" is believed only once the status method's
``max_processing`` has passed since the last send: before that Paynet may still be working on
it, so the status is asked again, with backoff. A run of the task is killed past its hard time
limit, which ``max_processing`` exceeds (the settings check it), so by then no send of this key
is alive. Status calls that cannot tell go on for ``reconcile_timeout`` after the window; then
the key is ``unknown``, for good: the gateway never sends it again by itself.
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
NOT_SUCCEEDED = -32001  # the status method reports the transaction in a failed status
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
    """Paynet found the transaction, in a status the settings say succeeded or failed."""

    outcome: jsonrpc.RpcResult  # Paynet's record, as it answered
    succeeded: bool


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
        return judge_found(exchange, status)
    if isinstance(exchange, jsonrpc.RpcError):
        if exchange.code in unauthorized_codes:
            return Rejected()
        if exchange.code in status.not_found_codes:
            return NotFound(f"{status.method} answered {exchange.code} {exchange.message}")
        return Inconclusive(f"{status.method} answered {exchange.code} {exchange.message}")
    return Inconclusive(f"{status.method} failed ({exchange})")


def status_text(value: Any) -> str | None:
    """A status as the trace writes it, a string; an integer as its decimal text; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _shown(value: Any) -> str:
    """A status for a message: short text as it is, anything else by its type only."""
    text = status_text(value)
    return repr(text) if text is not None and len(text) <= 40 else f"a {type(value).__name__}"


def judge_found(result: jsonrpc.RpcResult, status: StatusMethod) -> Found | Inconclusive:
    """Succeeded or failed only by a status the settings name; anything else cannot tell."""
    record, field = result.value, status.status_field
    if not isinstance(record, dict):
        return Inconclusive(f"{status.method} answered a result that is not a transaction")
    if field not in record:
        return Inconclusive(f"{status.method} answered a transaction without {field!r}")
    value = status_text(record[field])
    if value is not None and value in status.succeeded_statuses:
        return Found(result, succeeded=True)
    if value is not None and value in status.failed_statuses:
        return Found(result, succeeded=False)
    shown = f"{field} {_shown(record[field])}"
    if value is not None and value in status.in_progress_statuses:
        return Inconclusive(f"{status.method} reports the transaction in progress ({shown})")
    return Inconclusive(f"{status.method} answered {shown}, a status no setting gives a meaning")


def found_outcome(found: Found, status: StatusMethod) -> jsonrpc.Answer:
    """Succeeded: the transaction found is the result. Failed: an error naming its status."""
    if found.succeeded:
        return found.outcome
    shown = _shown(found.outcome.value[status.status_field])
    return jsonrpc.RpcError(
        NOT_SUCCEEDED,
        f"{status.method} reports the transaction with {status.status_field} {shown}, "
        "which the gateway is configured to take as failed: not a success",
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
