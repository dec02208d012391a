"""The answer to one ``paynet.call``: its result, or the gateway's exception rebuilt.

Celery's JSON result keeps an exception's class name and ``args`` only; a producer without the
gateway's modules gets a stand-in class of the same name from Celery, which ``rebuild`` turns
into this package's class (``paynet_gateway_client.errors``), so that a
producer writes ``except PaynetRpcError as error: error.code``. A task that ended without the
gateway's answer (its worker killed, a time limit) becomes ``OutcomeUnknown``: a payment may
have executed, and resubmitting it under its key reconciles it.
"""

from __future__ import annotations

from typing import Any

from celery import current_task
from celery.result import AsyncResult, task_join_will_block

from paynet_gateway_client.errors import (
    CONTRACT,
    OutcomeUnknown,
    PaynetGatewayError,
    PaynetRpcError,
)

GATEWAY_ERRORS = CONTRACT
IN_A_TASK = (
    "CallHandle.get() called inside a Celery task: Celery forbids waiting for another task's "
    "result there (every slot could end up waiting for tasks that no slot is free to run). "
    "Chain the payment instead: client.signature(...) | next_step.s(), or pass link= and "
    "link_error= to client.send()"
)


def inside_a_task() -> bool:
    """Whether this code runs in a Celery task, where waiting for a result could deadlock."""
    return bool(task_join_will_block()) or bool(current_task)


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
        if inside_a_task():
            raise RuntimeError(IN_A_TASK)
        value = self._result.get(timeout=timeout, propagate=False)
        if self._result.successful():
            return value
        if isinstance(value, BaseException):
            rebuilt = rebuild(value)
            # A stand-in of the same class adds nothing; a foreign failure stays as the cause.
            same = type(rebuilt).__name__ == type(value).__name__
            raise rebuilt from (None if same else value)
        raise OutcomeUnknown(f"paynet.call ended in state {self._result.state}")
