"""The gateway's exceptions: the contract that producers see in task results.

Celery's JSON result format keeps an exception's class name and ``args`` only, so whatever a
producer needs travels in ``args`` and every message is built here, never from a secret::

    PaynetGatewayError
    ├── InvalidRequest          bad task arguments; nothing was sent
    ├── PaynetRpcError          Paynet answered an error other than unauthorized
    ├── TokenUnavailable        no token could be had (the cause is in the message)
    ├── ProviderUnavailable     the resource could not be reached
    ├── MalformedResponse       the answer was not valid JSON-RPC
    ├── OutcomeUnknown          the request may have executed and could not be reconciled
    └── IdempotencyConflict     same idempotency key, different request

Celery writes a failure's ``repr`` on its "raised expected" log line and in the task-failed
event that Flower shows, and its ``str`` at the end of the traceback: neither holds Paynet's
error data (a payment's fields and amounts), only its summary; ``args`` keep all of it.
"""

from __future__ import annotations

from typing import Any

from worker.summary import summary


class PaynetGatewayError(Exception):
    """Root of every error the gateway hands back to a producer."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidRequest(PaynetGatewayError):
    """The task's arguments were wrong; nothing reached Paynet."""


class PaynetRpcError(PaynetGatewayError):
    """Paynet answered a JSON-RPC error; code, message and data travel in ``args``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)

    @property
    def code(self) -> int:
        return int(self.args[0])

    @property
    def message(self) -> str:
        return str(self.args[1])

    @property
    def data(self) -> Any:
        return self.args[2]

    def __str__(self) -> str:
        return f"Paynet error {self.args[0]}: {self.args[1]}"

    def __repr__(self) -> str:
        """``PaynetRpcError(-31001, 'insufficient funds', <data: transactionId=7, 5 fields>)``."""
        code, message, data = self.args
        return f"{type(self).__name__}({code!r}, {message!r}, {summary(data, 'data')})"


class TokenUnavailable(PaynetGatewayError):
    """No token could be had; the message names the classified cause."""


class ProviderUnavailable(PaynetGatewayError):
    """The resource could not be reached (connection, timeout, HTTP error without a body)."""


class MalformedResponse(PaynetGatewayError):
    """The answer was not valid JSON-RPC 2.0."""


class OutcomeUnknown(PaynetGatewayError):
    """The request may have executed at Paynet and could not be reconciled."""


class IdempotencyConflict(PaynetGatewayError):
    """The idempotency key was already used for a different request."""


__all__ = [
    "IdempotencyConflict",
    "InvalidRequest",
    "MalformedResponse",
    "OutcomeUnknown",
    "PaynetGatewayError",
    "PaynetRpcError",
    "ProviderUnavailable",
    "TokenUnavailable",
]
