"""Keyed payments as a payment-service would send them, and what the ledger says of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from sqlalchemy import Engine, select

from worker.tables import ledger


def payment(key: str, amount: Decimal | int = 15000, **params: Any) -> dict[str, Any]:
    """``paynet.call`` kwargs for a performTransaction whose agent id is its idempotency key."""
    return {
        "method": "performTransaction",
        "params": {
            "id": key,
            "service_id": 101,
            "time": 1764158400000,
            "fields": {"phone": "998901234567"},
            "amount": amount,
            **params,
        },
        "idempotency_key": key,
    }


def pay(producer: Celery, key: str, **kwargs: Any) -> AsyncResult:
    return producer.send_task("paynet.call", kwargs=payment(key, **kwargs))


def ledger_states(engine: Engine, keys: Iterable[str] | None = None) -> dict[str, str]:
    """Key → state, for the given keys (all rows when None)."""
    query = select(ledger.c.idempotency_key, ledger.c.state)
    if keys is not None:
        query = query.where(ledger.c.idempotency_key.in_(list(keys)))
    with engine.connect() as conn:
        return {key: state for key, state in conn.execute(query)}


def count_states(states: dict[str, str]) -> Counter[str]:
    return Counter(states.values())
