"""The call path of ``integration.call``: take the token, send, judge the answer, redact.

The same token mechanism as ``paynet.call`` (``worker.tokens.provider``): a token being
refreshed raises ``RetryLater`` (the task waits by retrying), no token at all
``TokenUnavailable``, a rejected token is forgotten and the next decision taken, in a loop a
reader follows top to bottom. No login ever runs here: the integration's refresh task does that.
A request that may have reached the API and got no answer ends in ``OutcomeUnknown``; one that
never left, in ``ProviderUnavailable``; any answer, whatever its status, is the result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from worker.calls.waits import RetryLater
from worker.core.redaction import redact_value
from worker.errors import OutcomeUnknown, ProviderUnavailable, TokenUnavailable
from worker.integrations.answers import answer_value, is_rejection
from worker.integrations.client import BearerClient, Reply
from worker.integrations.request import IntegrationRequest
from worker.paynet.failures import TransportFailure
from worker.tokens.policy import Decision, NoToken, TokenWait, UseToken
from worker.tokens.provider import TokenProvider

log = logging.getLogger("worker.integration")


class IntegrationCalls:
    """Every integration's calls in a process: the shared provider, one client each."""

    def __init__(self, provider: TokenProvider, clients: Mapping[str, BearerClient]) -> None:
        self.provider = provider
        self.clients = clients

    def call(self, request: IntegrationRequest, wait: TokenWait | None = None) -> dict[str, Any]:
        name = request.integration
        decision = self.provider.token(name, wait)
        while True:
            token = self._usable(name, decision)
            reply = self._send(request, token)
            settings = self.clients[name].settings
            if not is_rejection(reply.status, reply.body, settings.rejection):
                value: dict[str, Any] = redact_value(
                    answer_value(reply.status, reply.body, reply.content_type)
                )
                return value
            log.info("token rejected: integration=%s generation=%d", name, token.generation)
            decision, wait = self.provider.rejected(name, token.generation, wait)

    def _usable(self, name: str, decision: Decision) -> UseToken:
        if isinstance(decision, UseToken):
            return decision
        if isinstance(decision, NoToken):
            log.warning("token unavailable: integration=%s cause=%s", name, decision.cause)
            raise TokenUnavailable(
                f"no token for integration {name!r}: {decision.cause} ({decision.detail})"
            )
        raise RetryLater(self.provider.next_poll(decision.wait), decision.wait)

    def _send(self, request: IntegrationRequest, token: UseToken) -> Reply:
        name, what = request.integration, f"{request.method} {request.path}"
        try:
            return self.clients[name].call(
                request.method,
                request.path,
                token.token,
                request.query,
                request.json,
                request.idempotency_key,
            )
        except TransportFailure as failure:
            if not failure.maybe_sent:
                raise ProviderUnavailable(
                    f"{name} could not be reached for {what} ({failure}): nothing was sent"
                ) from None
            raise OutcomeUnknown(
                f"{name}: {what}: no answer ({failure}); the request may have executed"
            ) from None
