"""The answer to one ``paynet.call``: its result, or the gateway's exception rebuilt.

Celery's JSON result keeps an exception's class name and ``args`` only. Where the producer has
``worker.errors`` imported, Celery rebuilds the class itself; elsewhere it makes a stand-in
class of the same name. ``rebuild`` turns either into the gateway's own class, so that a
producer writes ``except PaynetRpcError as error: error.code``. A task that ended without the
gateway's answer (its worker killed, a time limit) becomes ``OutcomeUnknown``: a payment may
have executed, and resubmitting it under its key reconciles it.
"""

from __future__ import annotations

from typing import Any

from celery.result import AsyncResult

from worker.errors import (
    IdempotencyConflict,
    InvalidRequest,
    MalformedResponse,
    OutcomeUnknown,
    PaynetGatewayError,
    PaynetRpcError,
    ProviderUnavailable,
    TokenUnavailable,
)

GATEWAY_ERRORS: dict[str, type[PaynetGatewayError]] = {
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


def rebuild(error: BaseException) -> BaseException:
    """The gateway's exception for a failure read from the result store."""
    if isinstance(error, PaynetGatewayError):
        return error
    cls = GATEWAY_ERRORS.get(type(error).__name__)
    if cls is PaynetRpcError:
        return _rpc_error(error)
    if cls is not None:
        return cls(*error.args)
    return OutcomeUnknown(
        f"paynet.call ended without the gateway's answer ({type(error).__name__}); "
        "the request may have executed at Paynet"
    )


def _rpc_error(error: BaseException) -> BaseException:
    args = error.args
    if len(args) == 3 and isinstance(args[0], int) and not isinstance(args[0], bool):
        return PaynetRpcError(args[0], str(args[1]), args[2])
    return OutcomeUnknown("PaynetRpcError arrived without its code, message and data")


class CallHandle:
    """A sent ``paynet.call``. ``get`` waits for it; ``id`` is Celery's task id."""

    def __init__(self, result: AsyncResult) -> None:
        self._result = result

    @property
    def id(self) -> str:
        return str(self._result.id)

    def ready(self) -> bool:
        return bool(self._result.ready())

    def get(self, timeout: float | None = None) -> Any:
        """The JSON-RPC result, or raise a ``PaynetGatewayError``.

        ``celery.exceptions.TimeoutError`` means no answer yet, not a failure: wait again, or
        send the same payment again (the gateway answers both sends with one outcome).
        """
        value = self._result.get(timeout=timeout, propagate=False)
        if self._result.successful():
            return value
        if isinstance(value, BaseException):
            rebuilt = rebuild(value)
            # A stand-in of the same class adds nothing; a foreign failure stays as the cause.
            same = type(rebuilt).__name__ == type(value).__name__
            raise rebuilt from (None if same else value)
        raise OutcomeUnknown(f"paynet.call ended in state {self._result.state}")
