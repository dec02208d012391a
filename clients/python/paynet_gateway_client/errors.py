"""The gateway's errors as a producer receives them, by the names the contract gives them.

The gateway's results keep an exception's class name and ``args`` (JSON); ``handle.rebuild``
turns what Celery hands back into these classes, so that a producer writes
``except PaynetRpcError as error: error.code``::

    PaynetGatewayError
    ├── InvalidRequest          bad task arguments; nothing was sent
    ├── PaynetRpcError          Paynet answered an error other than unauthorized
    ├── TokenUnavailable        no token could be had (the cause is in the message)
    ├── ProviderUnavailable     the resource could not be reached
    ├── MalformedResponse       the answer was not valid JSON-RPC
    ├── OutcomeUnknown          the request may have executed and could not be reconciled
    └── IdempotencyConflict     same idempotency key, different request
"""

from __future__ import annotations

from typing import Any


class PaynetGatewayError(Exception):
    """Root of every error the gateway hands back to a producer."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidRequest(PaynetGatewayError):
    """The task's arguments were wrong; nothing reached Paynet."""


class PaynetRpcError(PaynetGatewayError):
    """Paynet answered a JSON-RPC error: ``code``, ``message`` and ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)

    code = property(lambda self: int(self.args[0]))
    message = property(lambda self: str(self.args[1]))
    data = property(lambda self: self.args[2])

    def __str__(self) -> str:
        return f"Paynet error {self.args[0]}: {self.args[1]}"


class TokenUnavailable(PaynetGatewayError):
    """No token could be had; the message names the cause."""


class ProviderUnavailable(PaynetGatewayError):
    """Paynet could not be reached; nothing executed, the same key may be sent again."""


class MalformedResponse(PaynetGatewayError):
    """Paynet's answer was not valid JSON-RPC 2.0."""


class OutcomeUnknown(PaynetGatewayError):
    """The payment may have executed; send it again under its key to learn its outcome."""


class IdempotencyConflict(PaynetGatewayError):
    """The idempotency key was already used for a different request."""


CONTRACT: dict[str, type[PaynetGatewayError]] = {
    cls.__name__: cls
    for cls in (
        PaynetGatewayError,
        InvalidRequest,
        PaynetRpcError,
        TokenUnavailable,
        ProviderUnavailable,
        MalformedResponse,
        OutcomeUnknown,
        IdempotencyConflict,
    )
}
