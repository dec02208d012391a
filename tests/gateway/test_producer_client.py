"""The producer client against real workers, real Redis and PostgreSQL, and the simulator.

The simulator executes every performTransaction it receives and counts executions per agent
id, so a resubmission that reached Paynet again would show as a second execution. The result
documents the workers leave in Redis are judged by the shipped JSON Schema as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from secrets import token_urlsafe
from typing import Any

import pytest
from celery import Celery
from jsonschema import Draft202012Validator
from paynet_gateway_client import CallHandle, GatewayClient
from paynet_gateway_client.errors import IdempotencyConflict, PaynetRpcError
from redis import Redis
from sqlalchemy import Engine

from simulator import Simulator
from tests.support.tokens import seed
from tests.support.workers import WorkerPool
from worker.schema import call_schema
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore

ORDERED_AT = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)  # stored with the order
RESULT = Draft202012Validator({**call_schema(), "$ref": "#/$defs/result"})


def pay(client: GatewayClient, order: str, amount: str = "15000.50") -> CallHandle:
    fields = {"phone": "998901234567"}
    return client.perform_transaction(order, 101, fields, Decimal(amount), ordered_at=ORDERED_AT)


def stored_document(redis_client: Redis, handle: CallHandle) -> Any:
    raw = redis_client.get(f"celery-task-meta-{handle.id}")
    assert raw is not None, "no result document in the backend"
    return json.loads(raw)


def test_a_payment_succeeds_with_its_amount_exact_and_its_result_fits_the_schema(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    redis_client: Redis,
) -> None:
    start_workers(processes=1, concurrency=2)
    handle = pay(GatewayClient(producer), "order-c1")
    result = handle.get(timeout=60)
    assert [result["transactionId"]] == simulator.transaction_ids("order-c1")
    assert result["status"] == "0"
    amounts = simulator.amounts("order-c1")  # as Paynet read it: exact, never a float
    assert amounts == [Decimal("15000.50")] and str(amounts[0]) == "15000.50"
    assert simulator.stats()["executions"] == {"order-c1": 1}
    assert RESULT.is_valid(stored_document(redis_client, handle))


def test_the_same_order_resubmitted_gets_the_same_result_and_executes_once(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=1, concurrency=2)
    client = GatewayClient(producer)
    racing = [pay(client, "order-c2"), pay(client, "order-c2")]  # a resubmission in flight
    answers = [handle.get(timeout=60) for handle in racing]
    later = pay(client, "order-c2").get(timeout=60)  # and one after the fact
    assert answers[0] == answers[1] == later
    stats = simulator.stats()
    assert stats["executions"] == {"order-c2": 1}
    assert stats["calls_by_method"]["performTransaction"] == 1


def test_the_same_agent_id_with_another_amount_raises_idempotency_conflict(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=1, concurrency=1)
    client = GatewayClient(producer)
    pay(client, "order-c3", "100.00").get(timeout=60)
    with pytest.raises(IdempotencyConflict, match="'order-c3'"):
        pay(client, "order-c3", "200.00").get(timeout=60)
    assert simulator.stats()["executions"] == {"order-c3": 1}


def test_paynets_error_is_rebuilt_with_its_code_message_and_data_also_on_resubmission(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    redis_client: Redis,
    token_key: str,
) -> None:
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", "tok-" + token_urlsafe())
    refused = {"code": -31001, "message": "insufficient funds", "data": {"balance": 12.5}}
    # The stored token spares a login: the worker's first request, id 1, is the payment.
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": refused})
    simulator.inject_fault("resource", "raw", count=1, body=body)
    start_workers(processes=1, concurrency=1)
    client = GatewayClient(producer)

    first = pay(client, "order-c4")
    with pytest.raises(PaynetRpcError) as caught:
        first.get(timeout=60)
    error = caught.value
    assert (error.code, error.message, error.data) == (
        -31001,
        "insufficient funds",
        refused["data"],
    )
    assert error.data["balance"] == Decimal("12.5")  # read exactly, as every answer is

    with pytest.raises(PaynetRpcError) as again:  # the ledger's recorded outcome, not a new send
        pay(client, "order-c4").get(timeout=60)
    assert again.value.args == error.args
    assert simulator.stats()["calls_by_method"]["performTransaction"] == 1
    assert RESULT.is_valid(stored_document(redis_client, first))


def test_a_lookup_finds_the_payment_and_an_unknown_one_is_paynets_not_found(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=1, concurrency=2)
    client = GatewayClient(producer)
    paid = pay(client, "order-c5").get(timeout=60)
    found = client.check_transaction_by_agent_id("order-c5").get(timeout=60)
    assert found["transactionId"] == paid["transactionId"]
    with pytest.raises(PaynetRpcError) as caught:
        client.check_transaction_by_agent_id("order-c0").get(timeout=60)
    assert caught.value.args == (-12007, "transaction not found", None)
