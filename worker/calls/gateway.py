"""The entry of ``paynet.call``: a keyed call goes through the ledger, an unkeyed one straight
through the same ``Attempt``; either returns the JSON-RPC result, raises a contract error, or
raises ``RetryLater``.

An unkeyed call has no ledger to reconcile against, so a request that may have reached Paynet
and got no usable answer ends in ``OutcomeUnknown`` (no answer) or ``MalformedResponse`` (an
answer that is not JSON-RPC), each saying that it may have executed; ``ProviderUnavailable``
means that nothing was sent.
"""

from __future__ import annotations

from typing import Any

from worker.calls.keyed import KeyedCalls, hand_back
from worker.calls.request import CallRequest
from worker.calls.send import Sender
from worker.errors import MalformedResponse, OutcomeUnknown, ProviderUnavailable
from worker.ledger.policy import LedgerWait
from worker.paynet.verdicts import Answered, NotSent, Rejected
from worker.tokens.policy import TokenWait


class Gateway:
    def __init__(self, sender: Sender, keyed: KeyedCalls) -> None:
        self.sender = sender
        self.keyed = keyed

    def call(
        self,
        request: CallRequest,
        wait: TokenWait | None = None,
        ledger_wait: LedgerWait | None = None,
        task_id: str = "-",
    ) -> Any:
        if request.idempotency_key is not None:
            return self.keyed.call(request, wait, ledger_wait, task_id)
        return self.unkeyed(request, wait)

    def unkeyed(self, request: CallRequest, wait: TokenWait | None = None) -> Any:
        attempt = self.sender.attempt(request, wait)
        method = request.method
        while True:
            token = attempt.token()
            verdict = attempt.send(token, method, request.params)
            if isinstance(verdict, Rejected):
                attempt.rejected(token)  # next: a newer token, a wait for its refresh, or none
                continue
            if isinstance(verdict, Answered):
                return hand_back(verdict.outcome)
            if isinstance(verdict, NotSent):
                raise ProviderUnavailable(
                    f"Paynet could not be reached for {method} ({verdict.detail})"
                )
            if verdict.malformed:
                raise MalformedResponse(
                    f"Paynet's answer to {method} is not valid JSON-RPC ({verdict.detail}); "
                    "the request may have executed at Paynet"
                )
            raise OutcomeUnknown(
                f"{method}: {verdict.detail}; the request may have executed at Paynet "
                "(send it with an idempotency key to have it reconciled)"
            )
