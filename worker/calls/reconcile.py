"""Reconciliation outside a payment's own task: an operator's, and the workers' sweep.

Both ask the key's status method through the same send path as a task (token, post, redaction)
and judge the answer the same way (``judge_status``: a found transaction by the status the
settings give a meaning; one they do not is an answer that cannot tell). They differ in what
they may decide:
- ``reconcile_now`` (``paynet-gateway ledger reconcile``): only "found" changes the ledger; any
  other answer is reported and the key left for the operator to settle.
- ``reconcile_abandoned`` (the workers' sweep, ``tasks/ledger.py``): a ``sent`` key whose lease
  passed is decided as its own task would have: found, settled; not found once the processing
  window passed, reopened (never executed, a resubmission sends it); still unclear past the
  reconcile deadline, ``unknown`` for an operator. The policy is ``after_status``, the task's.
Every ledger write is conditional on the attempts it looked at, so a sweep racing the key's own
task (or another sweep) changes nothing that task decided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from worker.calls.keyed import KeyedCalls
from worker.calls.request import CallRequest
from worker.calls.send import Attempt
from worker.calls.waits import RetryLater
from worker.core import metrics
from worker.errors import TokenUnavailable
from worker.ledger.policy import (
    Found,
    Hold,
    Inconclusive,
    NotFound,
    Reopen,
    Settle,
    Unresolved,
    after_status,
    found_outcome,
    judge_status,
)
from worker.ledger.record import IN_DOUBT, LedgerRecord, State
from worker.paynet.verdicts import Rejected
from worker.settings import StatusMethod
from worker.tokens.policy import UseToken

log = logging.getLogger("worker.ledger")

Sleep = Callable[[float], None]


def reconcile_now(
    keyed: KeyedCalls, record: LedgerRecord, timeout: float, sleep: Sleep = time.sleep
) -> str:
    """One line saying what Paynet said of ``record`` and what the ledger did about it."""
    status = keyed.settings.ledger.status_methods.get(record.fingerprint.method)
    if record.state not in IN_DOUBT:
        return f"{record.state} already; nothing to reconcile"
    if status is None or record.agent_id is None:
        return f"{record.fingerprint.method} cannot be looked up at Paynet: settle it by hand"
    verdict = ask_status(keyed, record, status, record.agent_id, timeout, sleep)
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


def reconcile_abandoned(
    keyed: KeyedCalls, record: LedgerRecord, timeout: float, sleep: Sleep = time.sleep
) -> str:
    """Decide a ``sent`` key past its lease as its task would; one line saying what happened."""
    if record.state is not State.SENT:
        return f"{record.state}; nothing to reconcile"
    store = keyed.store
    status = keyed.settings.ledger.status_methods.get(record.fingerprint.method)
    if status is None or record.agent_id is None:
        reason = (
            f"sent ({record.detail or 'its sender was lost'}) with no outcome recorded, and "
            f"{record.fingerprint.method} has no status method: it may have executed at Paynet"
        )
        return _unknown(keyed, record, reason)
    verdict = ask_status(keyed, record, status, record.agent_id, timeout, sleep)
    step = after_status(verdict, record, status, keyed.settings.ledger)
    said = "found" if isinstance(verdict, Found) else verdict.detail
    if isinstance(step, Settle):
        detail = f"reconciled by the workers: {status.method} found it"
        settled = store.settle(record.key, record.attempts, step.outcome, detail)
        log.info("reconciled: key=%s executed at Paynet (%s)", record.key, settled.state)
        metrics.ledger_swept("settled")
        return f"found at Paynet: recorded as {settled.state}"
    if isinstance(step, Reopen):
        detail = f"reconciled by the workers: {said}; not executed, may be sent again"
        store.reopen(record.key, record.attempts, detail)
        log.info("reconciled: key=%s not executed at Paynet; reopened", record.key)
        metrics.ledger_swept("reopened")
        return "not executed at Paynet: reopened (a resubmission sends it)"
    if isinstance(step, Unresolved):
        return _unknown(keyed, record, step.reason)
    assert isinstance(step, Hold)  # noqa: S101 - after_status answers nothing else
    store.note(record.key, record.attempts, f"{step.reason}: {said}")
    return f"{step.reason} ({said}); asked again at the next sweep"


def _unknown(keyed: KeyedCalls, record: LedgerRecord, reason: str) -> str:
    keyed.store.mark_unknown(record.key, reason, attempts=record.attempts)
    log.error(
        "outcome unknown: key=%s method=%s attempts=%d: %s; check it at Paynet "
        "(paynet-gateway ledger show %s)",
        record.key,
        record.fingerprint.method,
        record.attempts,
        reason,
        record.key,
    )
    metrics.ledger_swept("unknown")
    return f"left unknown: {reason}"


def ask_status(
    keyed: KeyedCalls,
    record: LedgerRecord,
    status: StatusMethod,
    agent_id: str,
    timeout: float,
    sleep: Sleep = time.sleep,
) -> Found | NotFound | Inconclusive:
    """The status call's verdict; no token within ``timeout`` is a verdict that cannot tell."""
    fingerprint = record.fingerprint
    request = CallRequest(status.method, {}, fingerprint.path, fingerprint.profile)
    attempt = keyed.sender.attempt(request, None)
    unauthorized = keyed.settings.token.unauthorized_codes
    deadline = time.monotonic() + timeout
    while True:
        try:
            token = _token(attempt, deadline, sleep)
        except (TimeoutError, TokenUnavailable) as exc:
            return Inconclusive(f"no token for {status.method}: {exc}")
        exchange = attempt.exchange(token, status.method, {status.id_param: agent_id})
        verdict = judge_status(exchange, status, unauthorized)
        if not isinstance(verdict, Rejected):
            return verdict
        attempt.rejected(token)  # the next decision: a newer token, a wait, or none


def _token(attempt: Attempt, deadline: float, sleep: Sleep) -> UseToken:
    while True:
        try:
            return attempt.token()
        except RetryLater as later:
            if time.monotonic() + later.countdown > deadline:
                raise TimeoutError("no Paynet token came in time (is a worker running?)") from None
            sleep(later.countdown)
            attempt.restart(later.token)
