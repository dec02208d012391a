"""paynet-gateway's client: send ``paynet.call`` from a Python payment-service.

``GatewayClient`` (a method per contract call, and signatures for Celery's canvas),
``CallHandle`` (the answer, with the gateway's exceptions rebuilt; refuses to wait inside a
task), ``producer_app`` (a JSON-only Celery app), the kwargs codec (``kwargs``) and the
contract's errors (``errors``). Depends on Celery alone.
"""

from paynet_gateway_client.client import GatewayClient, producer_app, trace_headers
from paynet_gateway_client.errors import (
    IdempotencyConflict,
    InvalidRequest,
    MalformedResponse,
    OutcomeUnknown,
    PaynetGatewayError,
    PaynetRpcError,
    ProviderUnavailable,
    TokenUnavailable,
)
from paynet_gateway_client.handle import CallHandle, inside_a_task, rebuild
from paynet_gateway_client.names import CALL_QUEUE, CALL_TASK

__all__ = [
    "CALL_QUEUE",
    "CALL_TASK",
    "CallHandle",
    "GatewayClient",
    "IdempotencyConflict",
    "InvalidRequest",
    "MalformedResponse",
    "OutcomeUnknown",
    "PaynetGatewayError",
    "PaynetRpcError",
    "ProviderUnavailable",
    "TokenUnavailable",
    "inside_a_task",
    "producer_app",
    "rebuild",
    "trace_headers",
]
