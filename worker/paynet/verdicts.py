"""What an exchange with Paynet means, decided from plain values: no I/O.

``judge_send`` says whether a call's exchange is an outcome, a rejected token, a request that
never left, or one whose fate is unknown; ``judge_login`` takes the token out of a login answer
or says why there is none. Both kinds of call (keyed and unkeyed) and the refresher judge here.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.core.causes import Cause
from worker.core.redaction import redact
from worker.paynet import jsonrpc
from worker.paynet.failures import HttpAnswer, HttpMalformed, LoginFailure, TransportFailure

MESSAGE_LIMIT = 200  # a provider's message is data, not something to log at any length

# What one request to a resource came back with.
Exchange = jsonrpc.RpcResult | jsonrpc.RpcError | TransportFailure | HttpMalformed


@dataclass(frozen=True)
class Answered:
    outcome: jsonrpc.Answer


@dataclass(frozen=True)
class Rejected:
    """The token was refused: nothing executed."""


@dataclass(frozen=True)
class NotSent:
    detail: str


@dataclass(frozen=True)
class InDoubt:
    """The request may have executed; ``malformed``: Paynet answered, but not JSON-RPC."""

    detail: str
    malformed: bool = False


SendVerdict = Answered | Rejected | NotSent | InDoubt


def judge_send(exchange: Exchange, unauthorized_codes: tuple[int, ...]) -> SendVerdict:
    """Only a well-formed answer is an outcome; no answer, or a garbled one, is not a guess."""
    if isinstance(exchange, jsonrpc.RpcResult):
        return Answered(exchange)
    if isinstance(exchange, jsonrpc.RpcError):
        return Rejected() if exchange.code in unauthorized_codes else Answered(exchange)
    if isinstance(exchange, TransportFailure):
        if not exchange.maybe_sent:
            return NotSent(f"{exchange}: nothing was sent")
        return InDoubt(f"no answer ({exchange})")
    return InDoubt(f"unusable answer ({exchange})", malformed=True)


def parse_http(answer: HttpAnswer, request_id: int) -> jsonrpc.Answer:
    """The JSON-RPC answer in an HTTP answer, or ``HttpMalformed`` saying why there is none; a
    redirect is refused by name, wherever it points."""
    if answer.redirect_to is not None:
        raise HttpMalformed(answer.status, f"a redirect to {answer.redirect_to}, not followed")
    try:
        return jsonrpc.parse_answer(answer.body, request_id)
    except jsonrpc.MalformedAnswer as exc:
        raise HttpMalformed(answer.status, exc.reason) from None


def judge_login(
    answer: HttpAnswer, request_id: int, transient_codes: frozenset[int] = frozenset()
) -> str:
    """The token from a login answer, or the classified reason there is none.

    Any JSON-RPC error to a login refuses the credentials, except codes configured as transient.
    """
    try:
        parsed = parse_http(answer, request_id)
    except HttpMalformed as failure:
        raise LoginFailure(failure.cause, str(failure)) from None
    if isinstance(parsed, jsonrpc.RpcError):
        cause = Cause.LOGIN_ERROR if parsed.code in transient_codes else Cause.REFUSED
        message = redact(parsed.message[:MESSAGE_LIMIT])  # Paynet may echo the credentials
        raise LoginFailure(cause, f"Paynet answered the login with {parsed.code} {message}")
    result = parsed.value
    token = result.get("token") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise LoginFailure(Cause.NO_TOKEN, "the login result holds no token")
    return token
