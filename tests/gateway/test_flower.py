"""What an operator sees in Flower: readable task names, and arguments, results and errors
without payment details."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest
import requests
from celery import Celery
from paynet_gateway_client import GatewayClient
from paynet_gateway_client.errors import PaynetRpcError
from sqlalchemy import Engine

from simulator import Simulator
from tests.support.flower import running_flower
from tests.support.leaks import log_lines, search
from tests.support.tokens import seed
from tests.support.workers import WorkerPool
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore

PHONE = "998901234567"


@pytest.fixture
def flower(gateway_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Flower as an operator starts it, with the broker's URL and nothing else of ours."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CELERY_BROKER_URL": gateway_env["REDIS_URL"],
        "FLOWER_UNAUTHENTICATED_API": "true",
    }
    with running_flower([], env, tmp_path / "flower.log") as url:
        yield url


def tasks_seen(flower: str, count: int) -> dict[str, dict[str, Any]]:
    """Flower's view of the tasks, once it has seen ``count`` of them finish."""
    deadline = time.monotonic() + 30
    while True:
        tasks: dict[str, dict[str, Any]] = requests.get(flower + "/api/tasks", timeout=5).json()
        done = [t for t in tasks.values() if t["state"] in ("SUCCESS", "FAILURE")]
        if len(done) >= count or time.monotonic() > deadline:
            return tasks
        time.sleep(0.2)


def test_flower_shows_task_names_and_the_method_profile_and_key_but_no_payment_details(
    flower: str,
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
) -> None:
    start_workers()
    kwargs = {
        "method": "performTransaction",
        "params": {"id": "order-5", "service_id": 101, "fields": {"phone": PHONE}, "amount": 777},
        "idempotency_key": "order-5",
    }
    shown = {"method": "performTransaction", "profile": "default", "idempotency_key": "order-5"}
    # A slow login: the refresh task logs in while both calls wait for it and retry (a retry
    # carries the masking repr again, which is what this checks).
    simulator.inject_fault("login", "slow", count=1, delay=1.5)
    result = producer.send_task("paynet.call", kwargs=kwargs, kwargsrepr=repr(shown))
    echo = producer.send_task(
        "paynet.call",
        kwargs={"method": "echo", "params": {"phone": PHONE}},
        kwargsrepr=repr({"method": "echo", "profile": "default"}),
    )
    paid = result.get(timeout=30)
    assert [paid["transactionId"]] == simulator.transaction_ids("order-5")
    assert echo.get(timeout=30) == {"phone": PHONE}  # the producer gets the whole result

    # The login is a task of its own, which Flower shows like any other.
    tasks = tasks_seen(flower, count=3)
    names = sorted(task["name"] for task in tasks.values())
    assert names == ["paynet.call", "paynet.call", "paynet.refresh_token"]
    payment = tasks[result.id]
    assert payment["state"] == "SUCCESS"
    assert "'method': 'performTransaction'" in payment["kwargs"]
    assert "'profile': 'default'" in payment["kwargs"]
    assert "'idempotency_key': 'order-5'" in payment["kwargs"]
    # The result as a summary: its transaction id and status, not its amount or fields.
    assert f"transactionId={paid['transactionId']} status=0" in payment["result"]
    assert "amount" not in payment["result"] and "777" not in payment["result"]
    assert tasks[echo.id]["result"] == "<result: 1 fields>"
    retried = max(tasks.values(), key=lambda task: task["retries"])
    assert retried["retries"] >= 1, "no call waited: the retry's repr went untested"
    assert "params" not in retried["kwargs"] or "fields>" in retried["kwargs"]
    everything = json.dumps(tasks)
    for secret in [PHONE, password, *simulator.issued_tokens()]:
        assert secret not in everything


def test_a_failed_payment_shows_paynets_error_data_to_the_producer_and_only_a_summary_elsewhere(
    flower: str,
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    token_key: str,
) -> None:
    # Paynet's error echoes payment details; the request carries none of these values, so a hit
    # could only come from the error.
    details = {"phone": "998911234567", "amount": "15000.50", "card": "8600123456789012"}
    data = {"transactionId": 88001, "status": "7", **details, "comment": "card blocked"}
    refused = {"code": -31002, "message": "payment refused", "data": data}
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", "tok-" + token_urlsafe())
    # The stored token spares a login: the worker's first request, id 1, is the payment.
    simulator.inject_fault(
        "resource", "raw", count=1, body=json.dumps({"jsonrpc": "2.0", "id": 1, "error": refused})
    )
    workers = start_workers(processes=1, concurrency=1, env={"LOG_LEVEL": "DEBUG"})
    handle = GatewayClient(producer).perform_transaction(
        "order-f1",
        101,
        {"phone": PHONE},
        Decimal(25),
        ordered_at=datetime(2025, 11, 26, tzinfo=UTC),
    )

    with pytest.raises(PaynetRpcError) as caught:
        handle.get(timeout=60)
    assert caught.value.args == (-31002, "payment refused", data)  # the producer gets it all

    summary = (
        "PaynetRpcError(-31002, 'payment refused', <data: transactionId=88001 status=7, 6 fields>)"
    )
    failed = tasks_seen(flower, count=1)[handle.id]
    assert failed["state"] == "FAILURE"
    assert failed["exception"] == summary
    assert "Paynet error -31002: payment refused" in failed["traceback"]
    flower_views = [
        ("flower /api/tasks", json.dumps(requests.get(flower + "/api/tasks", timeout=5).json())),
        ("flower task info", requests.get(f"{flower}/api/task/info/{handle.id}", timeout=5).text),
        ("flower task page", requests.get(f"{flower}/task/{handle.id}", timeout=5).text),
    ]
    assert "transactionId=88001" in flower_views[2][1]
    workers.stop()
    logs = list(log_lines(worker.log_path for worker in workers.workers))
    assert any(f"raised expected: {summary}" in line for _, line in logs)
    assert any(" DEBUG " in line for _, line in logs)
    assert [str(hit) for hit in search([*logs, *flower_views], details)] == []
