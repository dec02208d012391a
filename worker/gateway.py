"""One attempt at a Paynet call: token, request, answer; waiting is handed back to the task.

``Gateway.call`` either returns the JSON-RPC result, raises one of the contract's errors, or
raises ``NeedWait`` so that the task frees its slot with ``self.retry(countdown=...)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from worker import jsonrpc
from worker.causes import describe
from worker.client import HttpMalformed, PaynetClient, TransportFailure
from worker.errors import MalformedResponse, PaynetRpcError, ProviderUnavailable, TokenUnavailable
from worker.ledger_flow import LedgerWait
from worker.redaction import redact, redact_value
from worker.request import CallRequest
from worker.settings import Settings
from worker.token_flow import Decision, GiveUp, UseToken, WaitState
from worker.token_provider import TokenProvider

log = logging.getLogger("worker.gateway")


@dataclass(frozen=True)
class NeedWait(Exception):
    """Wait ``countdown`` seconds (for a token refresh, or on the ledger), then run again."""

    countdown: float
    wait: WaitState | None
    ledger: LedgerWait | None = None

    def to_kwargs(self) -> dict[str, Any]:
        """The task's private kwargs for the retry: ``_wait`` (token), ``_ledger`` (ledger)."""
        kwargs: dict[str, Any] = {}
        if self.wait is not None:
            kwargs["_wait"] = self.wait.to_kwargs()
        if self.ledger is not None:
            kwargs["_ledger"] = self.ledger.to_kwargs()
        return kwargs


class Gateway:
    def __init__(
        self, settings: Settings, provider: TokenProvider, clients: dict[str, PaynetClient]
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.clients = clients

    def call(self, request: CallRequest, wait: WaitState | None = None) -> Any:
        decision: Decision = self.provider.token(request.profile, wait)
        while True:
            token = self.token_or_wait(request.profile, decision)
            answer = self._send(request, token.token)
            if isinstance(answer, jsonrpc.RpcResult):
                return answer.value
            if answer.code not in self.settings.token.unauthorized_codes:
                # Paynet may echo the token back in an error; the result backend must not keep it.
                raise PaynetRpcError(answer.code, redact(answer.message), redact_value(answer.data))
            log.info("token rejected: profile=%s generation=%d", request.profile, token.generation)
            decision, wait = self.provider.rejected(request.profile, token.generation, wait)

    def token_or_wait(self, profile: str, decision: Decision) -> UseToken:
        if isinstance(decision, UseToken):
            return decision
        if isinstance(decision, GiveUp):
            message = describe(profile, decision.cause, decision.detail)
            # The cause's ERROR line was logged where it happened (the failed login, the
            # outage); every task that gives up on it says so once more, at WARNING.
            log.warning("token unavailable: profile=%s cause=%s", profile, decision.cause)
            raise TokenUnavailable(message)
        raise NeedWait(self.settings.token.wait_step, decision.wait)

    def _send(self, request: CallRequest, token: str) -> jsonrpc.Answer:
        client = self.clients[request.profile]
        try:
            answer, _http = client.call(request.method, request.params, token, request.path)
        except TransportFailure as failure:
            raise ProviderUnavailable(
                f"Paynet could not be reached for {request.method}: {failure}"
            ) from None
        except HttpMalformed as malformed:
            if malformed.status >= 400:
                raise ProviderUnavailable(
                    f"Paynet answered {request.method} with {malformed}"
                ) from None
            raise MalformedResponse(
                f"Paynet's answer to {request.method} is not valid JSON-RPC: {malformed.reason}"
            ) from None
        return answer
