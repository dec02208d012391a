"""Calls that carry an idempotency key: through the ledger, sent by exactly one task.

Each run of the task reads the key's row and does what ``decide_key`` says, then reads the row
again, until there is an outcome to hand back or a reason to wait (``RetryLater``) or to give
up. Only the task that won the claim sends; an answer is recorded only when it is a well-formed
JSON-RPC answer; a request whose answer was lost is reconciled through the method's status call,
never simply sent again. Every request goes through the same ``Attempt`` as an unkeyed call.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from worker.calls.request import CallRequest
from worker.calls.send import Attempt, Sender
from worker.calls.waits import RetryLater
from worker.core import spans
from worker.core.outages import Unavailable
from worker.errors import (
    IdempotencyConflict,
    InvalidRequest,
    OutcomeUnknown,
    PaynetRpcError,
    ProviderUnavailable,
    TokenUnavailable,
)
from worker.ledger.fingerprint import fingerprint
from worker.ledger.policy import (
    POLL_MAX,
    Conflict,
    Exhausted,
    Found,
    Hold,
    Inconclusive,
    LedgerWait,
    Reconcile,
    Recorded,
    Reopen,
    Settle,
    StatusVerdict,
    Unresolved,
    after_status,
    decide_key,
    judge_status,
    status_params,
)
from worker.ledger.record import FINISHED, IN_DOUBT, LedgerRecord, State
from worker.ledger.store import LedgerStore
from worker.paynet import jsonrpc
from worker.paynet.verdicts import Answered, InDoubt, NotSent, Rejected, SendVerdict
from worker.settings import Settings, StatusMethod
from worker.tokens.policy import TokenWait, UseToken

log = logging.getLogger("worker.ledger")

MAX_STEPS = 12  # steps in one run of the task; each is a real change, so this is a safety net
MIN_POST_DELAY = 1.0  # seconds a claim may take before its post is not started (see _send)


@dataclass(frozen=True)
class KeyedCalls:
    """What every keyed call in a process works with."""

    settings: Settings
    sender: Sender
    store: LedgerStore

    def call(
        self,
        request: CallRequest,
        wait: TokenWait | None = None,
        ledger_wait: LedgerWait | None = None,
        task_id: str = "-",
    ) -> Any:
        result = KeyedCall(self, request, wait, ledger_wait, task_id).run()
        if request.keyed_by_agent_id and isinstance(result, dict):
            # The producer gave no key: say which one the ledger used, beside Paynet's answer.
            return {"idempotency_key": request.idempotency_key, **result}
        return result


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]


def hand_back(outcome: jsonrpc.Answer) -> Any:
    if isinstance(outcome, jsonrpc.RpcResult):
        return outcome.value
    raise PaynetRpcError(outcome.code, outcome.message, outcome.data)


class KeyedCall:
    """One run of a keyed task: its token and ledger wait state, and the last row it saw."""

    def __init__(
        self,
        calls: KeyedCalls,
        request: CallRequest,
        wait: TokenWait | None,
        ledger_wait: LedgerWait | None,
        task_id: str,
    ) -> None:
        if request.idempotency_key is None:
            raise ValueError("a keyed call needs an idempotency key")
        self.store = calls.store
        self.settings = calls.settings
        self.request = request
        self.key = request.idempotency_key
        self.attempt: Attempt = calls.sender.attempt(request, wait)
        self.ledger_wait = ledger_wait
        self.task_id = task_id
        profile = self.settings.profile(request.profile)
        self.timeouts = profile.timeouts
        try:
            path = request.path or profile.resource_path
            self.fingerprint = fingerprint(request.profile, path, request.method, request.params)
        except ValueError as exc:
            raise InvalidRequest(f"params: {exc}") from None
        self.status = self.settings.ledger.status_methods.get(request.method)
        self.status_params = status_params(request.params, self.status) if self.status else None
        self.record: LedgerRecord | None = None
        self.posted = False  # a request left for Paynet and its outcome is not recorded yet
        self.unrecorded: jsonrpc.Answer | None = None  # known, not yet in the ledger

    def run(self) -> Any:
        try:
            return self._steps()
        except Unavailable as outage:
            return self._without_database(outage)

    def _steps(self) -> Any:
        agent_id = next(iter(self.status_params.values())) if self.status_params else None
        with spans.span("paynet.ledger.open"):
            self.record = self.store.open(self.key, self.fingerprint, _text(agent_id))
        for _ in range(MAX_STEPS):
            step = decide_key(
                self.record, self.fingerprint, self.status_params is not None, self.ledger_wait
            )
            if isinstance(step, Recorded):
                return hand_back(step.outcome)
            if isinstance(step, Conflict):
                raise self._conflict(step)
            if isinstance(step, Unresolved):
                raise self._give_up(step.reason)
            if isinstance(step, Hold):
                raise self._hold(step)
            if isinstance(step, Exhausted):
                self.record = self._exhausted(self.record, step)
            elif isinstance(step, Reconcile):
                self.record = self._reconcile(self.record)
            else:
                self.record = self._send()
        raise self._retry(POLL_MAX, self.ledger_wait)

    def _retry(self, countdown: float, ledger_wait: LedgerWait | None) -> RetryLater:
        return RetryLater(countdown, self.attempt.wait, ledger_wait)

    def _token(self) -> UseToken:
        """The token, or a wait for it that keeps this run's ledger wait state."""
        try:
            return self.attempt.token()
        except RetryLater as need:
            raise RetryLater(need.countdown, need.token, self.ledger_wait) from None

    # the steps

    def _send(self) -> LedgerRecord:
        token = self._token()  # before the claim: a wait for a token never holds the key
        owner = f"{self.task_id}:{secrets.token_hex(4)}"
        settle = self.settings.ledger.settle_delay
        lease = self.timeouts.connect + self.timeouts.read + settle
        before = time.monotonic()
        with spans.span("paynet.ledger.claim"):
            claimed = self.store.claim(self.key, owner, lease)
        if claimed.owner != owner or claimed.state is not State.SENT:
            return claimed  # another task holds it: decide again from its row
        if time.monotonic() - before > max(settle, MIN_POST_DELAY):
            # The claim took long (database retries, a stalled process): a post starting now
            # could outlive the lease and the window counted from the claim. Nothing was sent.
            self.store.release(self.key, owner, "claimed too long ago to send: nothing was sent")
            raise self._retry(0.0, self.ledger_wait)
        self.posted = True
        verdict: SendVerdict
        try:
            verdict = self.attempt.send(token, self.request.method, self.request.params)
        except SoftTimeLimitExceeded:
            log.warning("sending key=%s stopped by the soft time limit; reconciling", self.key)
            verdict = InDoubt("the run was stopped by its time limit while sending")
        except Exception as exc:  # the request may have left: never a guess either way
            log.exception("sending key=%s failed unexpectedly", self.key)
            verdict = InDoubt(f"the send failed unexpectedly ({type(exc).__name__})")
        return self._after_send(owner, claimed.attempts, token, verdict)

    def _after_send(
        self, owner: str, attempt: int, token: UseToken, verdict: SendVerdict
    ) -> LedgerRecord:
        if isinstance(verdict, Answered):
            return self._record_answer(owner, attempt, verdict.outcome)
        if isinstance(verdict, Rejected):
            record = self.store.release(self.key, owner, "token rejected: nothing executed")
            self.posted = False
            self.attempt.rejected(token)  # the key is let go of first: this may ask for a refresh
            return record
        if isinstance(verdict, NotSent):
            self.store.release(self.key, owner, verdict.detail)
            self.posted = False
            raise ProviderUnavailable(
                f"Paynet could not be reached for {self.request.method} ({verdict.detail}); "
                f"idempotency key {self.key!r} may be submitted again"
            )
        settle = self.settings.ledger.settle_delay
        log.warning(
            "outcome in doubt: key=%s method=%s attempt=%d: %s; reconciling in %gs",
            self.key,
            self.request.method,
            attempt,
            verdict.detail,
            settle,
        )
        record = self.store.doubt(self.key, owner, verdict.detail, settle)
        self.posted = False
        return record

    def _record_answer(self, owner: str, attempt: int, outcome: jsonrpc.Answer) -> LedgerRecord:
        self.unrecorded = outcome
        with spans.span("paynet.ledger.finish"):
            record = self.store.finish(self.key, owner, outcome, "answered by Paynet")
        self.posted, self.unrecorded = False, None
        if record.owner != owner or record.state not in FINISHED:
            log.error(
                "answer for key=%s attempt=%d came after its lease and was not recorded; "
                "the ledger had moved on (state %s): check it for a second execution",
                self.key,
                attempt,
                record.state,
            )
        return record

    def _reconcile(self, record: LedgerRecord) -> LedgerRecord:
        status, params = self.status, self.status_params
        if status is None or params is None:  # decide_key reconciles neither
            raise RuntimeError(f"key {self.key!r} has no status call to reconcile it with")
        verdict = self._ask_status(status, params)
        if isinstance(verdict, Rejected):
            return record
        step = after_status(verdict, record, status, self.settings.ledger, self.ledger_wait)
        if isinstance(step, Settle):
            return self._settle(record, step, status.method)
        said = verdict.detail if not isinstance(verdict, Found) else "found"
        if isinstance(step, Reopen):
            log.info(
                "reconciled: key=%s attempt=%d not executed; sending again",
                self.key,
                record.attempts,
            )
            detail = f"reconciled: {said}; not executed, to be sent again"
            return self.store.reopen(self.key, record.attempts, detail)
        detail = f"{step.reason}: {said}"
        if isinstance(step, Unresolved):
            self.record = self.store.mark_unknown(self.key, step.reason, attempts=record.attempts)
            raise self._give_up(step.reason)
        self.record = self.store.note(self.key, record.attempts, detail)
        log.warning("reconciling key=%s: %s; again in %.1fs", self.key, detail, step.countdown)
        raise self._retry(step.countdown, step.wait)

    def _ask_status(self, status: StatusMethod, params: dict[str, Any]) -> StatusVerdict:
        """What the status call says; no token is an answer that cannot tell, never the
        producer's ``TokenUnavailable``: the payment may have executed."""
        try:
            token = self._token()
        except TokenUnavailable as exc:
            self.attempt.restart(None)  # the next run asks for a token afresh
            return Inconclusive(f"no token for {status.method}: {exc}")
        exchange = self.attempt.exchange(token, status.method, params)
        verdict = judge_status(exchange, status, self.settings.token.unauthorized_codes)
        if isinstance(verdict, Rejected):
            self.attempt.rejected(token)
        return verdict

    def _exhausted(self, record: LedgerRecord, step: Exhausted) -> LedgerRecord:
        log.error("giving up: key=%s: %s", self.key, step.outcome.message)
        return self.store.give_up(self.key, record.attempts, step.outcome, "given up")

    def _settle(self, record: LedgerRecord, step: Settle, method: str) -> LedgerRecord:
        self.unrecorded = step.outcome
        detail = f"reconciled: {method} found it"
        settled = self.store.settle(self.key, record.attempts, step.outcome, detail)
        self.unrecorded = None
        log.info("reconciled: key=%s attempt=%d executed at Paynet", self.key, record.attempts)
        return settled

    # endings

    def _hold(self, step: Hold) -> RetryLater:
        log.debug("key=%s waits %.2fs: %s", self.key, step.countdown, step.reason)
        return self._retry(step.countdown, step.wait)

    def _conflict(self, step: Conflict) -> IdempotencyConflict:
        differ = ", ".join(step.differences)
        log.warning("idempotency conflict: key=%s: %s differ; nothing sent", self.key, differ)
        return IdempotencyConflict(
            f"idempotency key {self.key!r} was already used for a different request "
            f"({differ} differ); nothing was sent"
        )

    def _give_up(self, reason: str) -> OutcomeUnknown:
        record = self.record
        if record is not None and record.state is State.SENT:
            record = self.store.mark_unknown(self.key, reason, attempts=record.attempts)
        attempts = record.attempts if record is not None else 0
        log.error(
            "outcome unknown: key=%s method=%s attempts=%d: %s; check it at Paynet "
            "(paynet-gateway ledger show %s)",
            self.key,
            self.request.method,
            attempts,
            reason,
            self.key,
        )
        return OutcomeUnknown(f"idempotency key {self.key!r}: {reason}")

    def _without_database(self, outage: Unavailable) -> Any:
        """The ledger could not be read or written within the retry bound."""
        unrecorded = self.unrecorded
        if isinstance(unrecorded, jsonrpc.RpcResult):
            log.error("key=%s: succeeded at Paynet but not recorded: %s", self.key, outage.detail)
            return unrecorded.value
        in_doubt = self.record is not None and self.record.state in IN_DOUBT
        if unrecorded is not None or self.posted or in_doubt:
            raise OutcomeUnknown(
                f"idempotency key {self.key!r}: {outage.detail}; it may have executed at Paynet"
            ) from None
        raise ProviderUnavailable(
            f"idempotency key {self.key!r}: {outage.detail}; nothing was sent, "
            "it may be submitted again"
        ) from None
