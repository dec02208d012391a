"""An operator's reconciliation: ask the status method about one key now, outside any task.

The same send path as a task's (token, post, redaction), and the same judgment of the answer;
but only "found" (in a status the settings call succeeded or failed) changes the ledger.
Anything else, a status it cannot judge included, is reported and the key left as it is: an
operator decides the rest (``paynet-gateway ledger settle``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from worker.calls.keyed import KeyedCalls
from worker.calls.request import CallRequest
from worker.calls.send import Attempt
from worker.calls.waits import RetryLater
from worker.ledger.policy import Found, Inconclusive, NotFound, found_outcome, judge_status
from worker.ledger.record import IN_DOUBT, LedgerRecord
from worker.paynet.verdicts import Rejected
from worker.settings import StatusMethod
from worker.tokens.policy import UseToken


def reconcile_now(
    keyed: KeyedCalls,
    record: LedgerRecord,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """One line saying what Paynet said of ``record`` and what the ledger did about it."""
    status = keyed.settings.ledger.status_methods.get(record.fingerprint.method)
    if record.state not in IN_DOUBT:
        return f"{record.state} already; nothing to reconcile"
    if status is None or record.agent_id is None:
        return f"{record.fingerprint.method} cannot be looked up at Paynet: settle it by hand"
    request = CallRequest(status.method, {}, record.fingerprint.path, record.fingerprint.profile)
    verdict = _ask(keyed, request, status, record.agent_id, time.monotonic() + timeout, sleep)
    if isinstance(verdict, Found):
        detail = f"reconciled by an operator: {status.method} found it"
        settled = keyed.store.settle(
            record.key, record.attempts, found_outcome(verdict, status), detail
        )
        return f"found at Paynet: recorded as {settled.state}"
    if isinstance(verdict, NotFound):
        return (
            f"not found ({verdict.detail}); left {record.state}: if it did not execute, "
            f"settle it with --not-executed"
        )
    return f"could not tell ({verdict.detail}); left {record.state}"


def _ask(
    keyed: KeyedCalls,
    request: CallRequest,
    status: StatusMethod,
    agent_id: str,
    deadline: float,
    sleep: Callable[[float], None],
) -> Found | NotFound | Inconclusive:
    attempt = keyed.sender.attempt(request, None)
    unauthorized = keyed.settings.token.unauthorized_codes
    while True:
        token = _token(keyed, attempt, request, deadline, sleep)
        exchange = attempt.exchange(token, status.method, {status.id_param: agent_id})
        verdict = judge_status(exchange, status, unauthorized)
        if not isinstance(verdict, Rejected):
            return verdict  # on a rejection the attempt took its next decision: ask again


def _token(
    keyed: KeyedCalls,
    attempt: Attempt,
    request: CallRequest,
    deadline: float,
    sleep: Callable[[float], None],
) -> UseToken:
    while True:
        try:
            return attempt.token()
        except RetryLater as later:
            if time.monotonic() + later.countdown > deadline:
                raise TimeoutError("no Paynet token came in time (is a worker running?)") from None
            sleep(later.countdown)
            attempt.restart(later.token)
