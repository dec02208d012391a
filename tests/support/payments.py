"""Keyed payments as a payment-service would send them, and what the ledger says of them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from sqlalchemy import Engine, select

from worker.db.tables import ledger


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


def wait_until_final(
    engine: Engine,
    keys: list[str],
    final: frozenset[str] = frozenset({"succeeded", "failed"}),
    timeout: float = 120.0,
    while_waiting: Callable[[], None] | None = None,
) -> dict[str, str]:
    """Poll the ledger until every key is in a final state; return the states either way."""
    deadline = time.monotonic() + timeout
    while True:
        states = ledger_states(engine, keys)
        if len(states) == len(keys) and all(state in final for state in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        if while_waiting is not None:
            while_waiting()
        time.sleep(0.2)
