"""Calls that carry an idempotency key go through the ledger; the rest go straight to Paynet.

For a keyed call each run of the task reads the key's row and does what ``ledger_flow.decide``
says, then reads the row again, until there is an outcome to hand back or a reason to wait (a
``NeedWait`` that the task turns into a countdown retry) or to give up. Only the task that won
the claim sends; an answer is recorded only when it is a well-formed JSON-RPC answer; a request
whose answer was lost is reconciled through the method's status call, never simply sent again.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from worker import jsonrpc
from worker.client import HttpMalformed, TransportFailure
from worker.db_retry import DatabaseUnavailable
from worker.errors import (
    IdempotencyConflict,
    InvalidRequest,
    OutcomeUnknown,
    PaynetRpcError,
    ProviderUnavailable,
)
from worker.fingerprint import fingerprint
from worker.gateway import Gateway, NeedWait
from worker.ledger_flow import (
    POLL_MAX,
    Answered,
    Conflict,
    Exchange,
    Found,
    GiveUp,
    Inconclusive,
    InDoubt,
    LedgerWait,
    NotFound,
    NotSent,
    Reconcile,
    Recorded,
    Rejected,
    Send,
    Wait,
    after_inconclusive,
    decide,
    judge_send,
    judge_status,
    lease_end,
    status_params,
)
from worker.ledger_store import FINISHED, IN_DOUBT, LedgerRecord, LedgerStore, Outcome, State
from worker.redaction import redact, redact_value
from worker.request import CallRequest
from worker.token_flow import Decision, UseToken, WaitState
from worker.token_store import Clock

log = logging.getLogger("worker.ledger")

MAX_STEPS = 12  # steps in one run of the task; each is a real change, so this is a safety net


class IdempotentGateway:
    def __init__(self, gateway: Gateway, store: LedgerStore, clock: Clock) -> None:
        self.gateway = gateway
        self.store = store
        self.clock = clock

    def call(
        self,
        request: CallRequest,
        wait: WaitState | None = None,
        ledger_wait: LedgerWait | None = None,
        task_id: str = "-",
    ) -> Any:
        if request.idempotency_key is None:
            return self.gateway.call(request, wait)
        return KeyedCall(self, request, wait, ledger_wait, task_id).run()


def hand_back(outcome: Outcome) -> Any:
    if isinstance(outcome, jsonrpc.RpcResult):
        return outcome.value
    raise PaynetRpcError(outcome.code, outcome.message, outcome.data)


class KeyedCall:
    """One run of a keyed task: its token and ledger wait state, and the last row it saw."""

    def __init__(
        self,
        owner: IdempotentGateway,
        request: CallRequest,
        wait: WaitState | None,
        ledger_wait: LedgerWait | None,
        task_id: str,
    ) -> None:
        assert request.idempotency_key is not None
        self.gateway = owner.gateway
        self.store = owner.store
        self.clock = owner.clock
        self.settings = owner.gateway.settings
        self.request = request
        self.key = request.idempotency_key
        self.wait = wait
        self.ledger_wait = ledger_wait
        self.task_id = task_id
        profile = self.settings.profile(request.profile)
        self.timeouts = profile.timeouts
        try:
            self.fingerprint = fingerprint(request, profile.resource_path)
        except ValueError as exc:
            raise InvalidRequest(f"params: {exc}") from None
        self.status = self.settings.ledger.status_methods.get(request.method)
        self.status_params = status_params(request.params, self.status) if self.status else None
        self.decision: Decision | None = None
        self.record: LedgerRecord | None = None
        self.posted = False  # a request left for Paynet and its outcome is not recorded yet
        self.unrecorded: Outcome | None = None  # an outcome known but not yet in the ledger

    def run(self) -> Any:
        try:
            return self._steps()
        except DatabaseUnavailable as exc:
            return self._without_database(exc)

    def _steps(self) -> Any:
        self.record = self.store.open(self.key, self.fingerprint)
        for _ in range(MAX_STEPS):
            step = decide(
                self.record,
                self.fingerprint,
                self.clock(),
                self.status_params is not None,
                self.ledger_wait,
            )
            if isinstance(step, Recorded):
                return hand_back(step.outcome)
            if isinstance(step, Conflict):
                raise self._conflict(step)
            if isinstance(step, GiveUp):
                raise self._give_up(step.reason)
            if isinstance(step, Wait):
                raise self._need_wait(step)
            if isinstance(step, Reconcile):
                self.record = self._reconcile(self.record)
            else:
                assert isinstance(step, Send)
                self.record = self._send()
        raise NeedWait(POLL_MAX, self.wait, self.ledger_wait)

    # token and transport

    def _token(self) -> UseToken:
        profile = self.request.profile
        if self.decision is None:
            self.decision = self.gateway.provider.token(profile, self.wait)
        try:
            return self.gateway.token_or_wait(profile, self.decision)
        except NeedWait as need:
            raise NeedWait(need.countdown, need.wait, self.ledger_wait) from None

    def _token_rejected(self, token: UseToken) -> None:
        profile = self.request.profile
        log.info(
            "token rejected: profile=%s generation=%d key=%s", profile, token.generation, self.key
        )
        self.decision, self.wait = self.gateway.provider.rejected(
            profile, token.generation, self.wait
        )

    def _exchange(self, method: str, params: dict[str, Any], token: str) -> Exchange:
        client = self.gateway.clients[self.request.profile]
        try:
            answer, _http = client.call(method, params, token, self.request.path)
        except (TransportFailure, HttpMalformed) as failure:
            return failure
        if isinstance(answer, jsonrpc.RpcError):
            # Paynet may echo the token in an error: neither the ledger nor a result keeps it.
            return jsonrpc.RpcError(answer.code, redact(answer.message), redact_value(answer.data))
        return answer

    # the steps

    def _send(self) -> LedgerRecord:
        token = self._token()
        owner = f"{self.task_id}:{secrets.token_hex(4)}"
        now = self.clock()
        due = lease_end(
            now, self.timeouts.connect, self.timeouts.read, self.settings.ledger.settle_delay
        )
        claimed = self.store.claim(self.key, owner, due)
        if claimed.owner != owner or claimed.state is not State.SENT:
            return claimed  # another task holds it: decide again from its row
        self.posted = True
        try:
            exchange = self._exchange(self.request.method, self.request.params, token.token)
            verdict = judge_send(exchange, self.settings.token.unauthorized_codes)
        except Exception as exc:  # the request may have left: never a guess either way
            log.exception("sending key=%s failed unexpectedly", self.key)
            verdict = InDoubt(f"the send failed unexpectedly ({type(exc).__name__})")
        return self._after_send(owner, claimed.attempts, token, verdict)

    def _after_send(
        self,
        owner: str,
        attempt: int,
        token: UseToken,
        verdict: Answered | Rejected | NotSent | InDoubt,
    ) -> LedgerRecord:
        if isinstance(verdict, Answered):
            self.wait = None
            self.unrecorded = verdict.outcome
            record = self.store.finish(self.key, owner, verdict.outcome, "answered by Paynet")
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
        if isinstance(verdict, Rejected):
            record = self.store.release(self.key, owner, "token rejected: nothing executed")
            self.posted = False
            self._token_rejected(token)
            return record
        if isinstance(verdict, NotSent):
            self.store.release(self.key, owner, verdict.detail)
            self.posted = False
            raise ProviderUnavailable(
                f"Paynet could not be reached for {self.request.method} ({verdict.detail}); "
                f"idempotency key {self.key!r} may be submitted again"
            )
        self.wait = None
        settle = self.settings.ledger.settle_delay
        log.warning(
            "outcome in doubt: key=%s method=%s attempt=%d: %s; reconciling in %gs",
            self.key,
            self.request.method,
            attempt,
            verdict.detail,
            settle,
        )
        due = lease_end(self.clock(), 0, 0, settle)
        record = self.store.mark_unknown(self.key, verdict.detail, due, owner=owner)
        self.posted = False
        return record

    def _reconcile(self, record: LedgerRecord) -> LedgerRecord:
        assert self.status is not None and self.status_params is not None
        token = self._token()
        exchange = self._exchange(self.status.method, self.status_params, token.token)
        verdict = judge_status(exchange, self.status, self.settings.token.unauthorized_codes)
        if isinstance(verdict, Rejected):
            self._token_rejected(token)
            return record
        self.wait = None
        if isinstance(verdict, Found):
            self.unrecorded = verdict.outcome
            detail = f"reconciled: {self.status.method} found it"
            settled = self.store.settle(self.key, record.attempts, verdict.outcome, detail)
            self.unrecorded = None
            log.info("reconciled: key=%s attempt=%d executed at Paynet", self.key, record.attempts)
            return settled
        if isinstance(verdict, NotFound):
            detail = f"reconciled: {verdict.detail}; not executed, to be sent again"
            log.info(
                "reconciled: key=%s attempt=%d not executed; sending again",
                self.key,
                record.attempts,
            )
            return self.store.reopen(self.key, record.attempts, detail)
        assert isinstance(verdict, Inconclusive)
        step = after_inconclusive(self.ledger_wait, self.clock().timestamp(), self.settings.ledger)
        detail = f"status unclear: {verdict.detail}"
        self.record = self.store.mark_unknown(self.key, detail, attempts=record.attempts)
        if isinstance(step, GiveUp):
            raise self._give_up(f"{step.reason} (last: {verdict.detail})")
        log.warning(
            "reconciling key=%s: %s; again in %.1fs", self.key, verdict.detail, step.countdown
        )
        raise NeedWait(step.countdown, self.wait, step.wait)

    # endings

    def _need_wait(self, step: Wait) -> NeedWait:
        log.debug("key=%s waits %.2fs: %s", self.key, step.countdown, step.reason)
        return NeedWait(step.countdown, self.wait, step.wait)

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

    def _without_database(self, exc: DatabaseUnavailable) -> Any:
        """The ledger could not be read or written within the retry bound."""
        unrecorded = self.unrecorded
        if isinstance(unrecorded, jsonrpc.RpcResult):
            log.error("key=%s: succeeded at Paynet but not recorded: %s", self.key, exc)
            return unrecorded.value
        in_doubt = self.record is not None and self.record.state in IN_DOUBT
        if unrecorded is not None or self.posted or in_doubt:
            raise OutcomeUnknown(
                f"idempotency key {self.key!r}: {exc}; it may have executed at Paynet"
            ) from None
        raise ProviderUnavailable(
            f"idempotency key {self.key!r}: {exc}; nothing was sent, it may be submitted again"
        ) from None
