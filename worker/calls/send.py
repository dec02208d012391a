"""The one path to Paynet: take the token, post, judge the answer, redact.

Both kinds of call go through an ``Attempt`` (one run of one task): keyed calls between their
ledger steps, unkeyed calls directly. A token that is being refreshed raises ``RetryLater``; no
token at all, ``TokenUnavailable``. A send returns what happened as a value (``Answered``,
``Rejected``, ``InDoubt``, ``NotSent``); a rejected token is the caller's to report with
``rejected``, after it has let go of anything it holds (a ledger key), because that takes the
next token decision, which may request a refresh. No login ever runs here: the refresh task
does that. Whatever Paynet returns is redacted before anyone stores, logs or raises it.
"""

from __future__ import annotations

import logging

from worker.calls.request import CallRequest
from worker.calls.waits import RetryLater
from worker.core.redaction import redact, redact_value
from worker.errors import TokenUnavailable
from worker.paynet import jsonrpc
from worker.paynet.client import PaynetClient
from worker.paynet.failures import HttpMalformed, TransportFailure
from worker.paynet.verdicts import Exchange, SendVerdict, judge_send
from worker.settings import TokenSettings
from worker.tokens.policy import Decision, NoToken, TokenWait, UseToken, describe
from worker.tokens.provider import TokenProvider

log = logging.getLogger("worker.gateway")


class Sender:
    """What every call in a process sends with: the token provider and one client per profile."""

    def __init__(
        self, provider: TokenProvider, clients: dict[str, PaynetClient], policy: TokenSettings
    ) -> None:
        self.provider = provider
        self.clients = clients
        self.policy = policy

    def attempt(self, request: CallRequest, wait: TokenWait | None) -> Attempt:
        return Attempt(self, request, wait)


class Attempt:
    """One run of one task: its token decision and token wait state, as they change."""

    def __init__(self, sender: Sender, request: CallRequest, wait: TokenWait | None) -> None:
        self.sender = sender
        self.request = request
        self.profile = request.profile
        self.wait = wait
        self._decision: Decision | None = None

    def restart(self, wait: TokenWait | None) -> None:
        """Decide afresh, as a retry of the task would, carrying ``wait``."""
        self.wait, self._decision = wait, None

    def token(self) -> UseToken:
        """The token to send with; ``RetryLater`` while one is being refreshed."""
        if self._decision is None:
            self._decision = self.sender.provider.token(self.profile, self.wait)
        decision = self._decision
        if isinstance(decision, UseToken):
            return decision
        if isinstance(decision, NoToken):
            # The cause's ERROR line was logged where it happened (the failed login, the
            # outage); every task that gives up on it says so once more, at WARNING.
            log.warning("token unavailable: profile=%s cause=%s", self.profile, decision.cause)
            raise TokenUnavailable(describe(self.profile, decision.cause, decision.detail))
        raise RetryLater(self.sender.provider.next_poll(decision.wait), decision.wait)

    def exchange(self, token: UseToken, method: str, params: dict[str, object]) -> Exchange:
        """One request with ``token``, its answer redacted. Anything but a rejection ends the
        wait for a token this run carried; a rejection is the caller's (``rejected``)."""
        client = self.sender.clients[self.profile]
        try:
            answer, _http = client.call(method, params, token.token, self.request.path)
        except (TransportFailure, HttpMalformed) as failure:
            self.wait = None
            return failure
        if isinstance(answer, jsonrpc.RpcError):
            if answer.code in self.sender.policy.unauthorized_codes:
                return answer
            # Paynet may echo the token or a credential: nothing downstream keeps it.
            answer = jsonrpc.RpcError(
                answer.code, redact(answer.message), redact_value(answer.data)
            )
        else:
            answer = jsonrpc.RpcResult(redact_value(answer.value))
        self.wait = None
        return answer

    def send(self, token: UseToken, method: str, params: dict[str, object]) -> SendVerdict:
        return judge_send(
            self.exchange(token, method, params), self.sender.policy.unauthorized_codes
        )

    def rejected(self, token: UseToken) -> None:
        """Paynet refused ``token``: forget it and take the next decision (a newer token, a
        wait for the refresh it requests, or none), which ``token()`` then answers."""
        key = self.request.idempotency_key
        log.info(
            "token rejected: profile=%s generation=%d%s",
            self.profile,
            token.generation,
            f" key={key}" if key else "",
        )
        self._decision, self.wait = self.sender.provider.rejected(
            self.profile, token.generation, self.wait
        )
