"""The kwargs of ``paynet.call`` built from typed values, and what monitoring shows of them.

Pure: no broker, no clock. A payment's params are built only from what the producer keeps with
its order (its id, service, fields, amount and the time it was made), so sending the same order
again builds the same request, which the gateway's ledger recognises (the same key and the same
fingerprint) and answers with the recorded outcome instead of ``IdempotencyConflict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from paynet_gateway_client.errors import InvalidRequest

PERFORM_TRANSACTION = "performTransaction"
CHECK_BY_AGENT_ID = "checkTransactionByAgentId"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def call_kwargs(
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    path: str | None = None,
    profile: str = "default",
) -> dict[str, Any]:
    """The kwargs as the contract names them; absent optional ones stay absent."""
    kwargs: dict[str, Any] = {"method": method, "params": dict(params or {}), "profile": profile}
    if idempotency_key is not None:
        kwargs["idempotency_key"] = idempotency_key
    if path is not None:
        kwargs["path"] = path
    return kwargs


def shown(kwargs: Mapping[str, Any]) -> str:
    """The ``kwargsrepr`` that Flower and the worker's events show instead of the kwargs: the
    method, profile, key and path, the params only counted (the gateway shows its retries the
    same way)."""
    visible = {
        "method": _cut(kwargs.get("method")),
        "profile": _cut(kwargs.get("profile", "default")),
    }
    for name in ("idempotency_key", "path"):
        if kwargs.get(name) is not None:
            visible[name] = _cut(kwargs[name])
    if isinstance(kwargs.get("params"), dict):
        visible["params"] = f"<{len(kwargs['params'])} fields>"
    return repr(visible)


def _cut(value: Any, limit: int = 120) -> Any:
    return value[:limit] + "..." if isinstance(value, str) and len(value) > limit else value


def payment_params(
    agent_id: str | int,
    service_id: int,
    fields: Mapping[str, Any],
    amount: Decimal,
    ordered_at: datetime | int,
) -> dict[str, Any]:
    """``performTransaction`` params; ``InvalidRequest`` names a wrong argument, never its value."""
    return {
        "id": agent_id_of(agent_id),
        "service_id": _integer("service_id", service_id),
        "time": payment_time(ordered_at),
        "fields": _fields(fields),
        "amount": _amount(amount),
    }


def agent_id_of(agent_id: str | int) -> str | int:
    """The agent's own transaction id: a non-empty string or an integer, as the gateway keys it."""
    if isinstance(agent_id, bool) or not isinstance(agent_id, str | int) or agent_id == "":
        raise InvalidRequest("agent_id: must be a non-empty string or an integer")
    return agent_id


def default_key(agent_id: str | int) -> str:
    """A payment is keyed by its agent id, the one id that is the same on every resubmission."""
    return str(agent_id_of(agent_id))


def payment_time(ordered_at: datetime | int) -> int:
    """Paynet's ``time`` in milliseconds since the epoch, exactly (no float on the way).

    A datetime must carry its zone: a naive one would mean another instant on a host in
    another zone, and so another request under the same key.
    """
    if isinstance(ordered_at, datetime):
        if ordered_at.tzinfo is None or ordered_at.utcoffset() is None:
            raise InvalidRequest("ordered_at: a datetime needs its time zone")
        return _integer("ordered_at", (ordered_at - _EPOCH) // _MILLISECOND)
    return _integer("ordered_at", ordered_at)


def _integer(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{name}: must be a non-negative integer")
    return value


def _fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(fields, Mapping) or not all(isinstance(key, str) for key in fields):
        raise InvalidRequest("fields: must be a mapping with string keys")
    return dict(fields)


def _amount(amount: Decimal) -> Decimal:
    """A Decimal travels exactly (kombu's JSON writes its digits); a float would round."""
    if not isinstance(amount, Decimal):
        raise InvalidRequest(f"amount: must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite() or amount <= 0:
        raise InvalidRequest("amount: must be a finite, positive Decimal")
    return amount
