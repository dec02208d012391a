"""Keyed payments end to end: real workers, PostgreSQL, Redis, the simulator counting executions.

The simulator executes every performTransaction it receives, duplicates included, and counts the
executions per agent id; each test's agent id is its idempotency key.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest
from celery import Celery
from redis import Redis
from sqlalchemy import Engine

from devservices.stack import Services
from simulator import Simulator
from tests.support.leaks import database_dump, log_lines, redis_dump, search
from tests.support.payments import pay, payment
from tests.support.tokens import seed
from tests.support.workers import REPO_ROOT, WorkerPool
from worker.core.redaction import MASK
from worker.ledger.record import LedgerRecord, State
from worker.ledger.store import LedgerStore
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore


def error_of(result: Any, timeout: float = 60) -> BaseException:
    with pytest.raises(Exception) as caught:
        result.get(timeout=timeout)
    return caught.value


def record(engine: Engine, key: str) -> LedgerRecord:
    found = LedgerStore(engine).load(key)
    assert found is not None, f"no ledger row for {key}"
    return found


def config_without_status_methods(tmp_path: Path) -> Path:
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    text, replaced = re.subn(
        r"  status_methods:\n(    .*\n)+", "  status_methods: {}\n", text, count=1
    )
    assert replaced == 1
    path = tmp_path / "config-no-status.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def second_producer(real_services: Services) -> Iterator[Celery]:
    """Another payment-service instance, with its own connections."""
    app = Celery(
        "payment-service-2", broker=real_services.redis_url, backend=real_services.redis_url
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes={"paynet.*": {"queue": "paynet"}},
    )
    yield app
    app.close()


def test_a_keyed_payment_executes_once_and_a_resubmission_returns_the_recorded_result(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    start_workers(processes=1, concurrency=2)
    first = pay(producer, "order-1", amount=Decimal("1500.50")).get(timeout=60)
    again = pay(producer, "order-1", amount=Decimal("1500.50")).get(timeout=60)
    assert again == first
    assert [first["transactionId"]] == simulator.transaction_ids("order-1")
    assert [str(amount) for amount in simulator.amounts("order-1")] == ["1500.50"]
    stats = simulator.stats()
    assert stats["executions"] == {"order-1": 1}
    assert stats["calls_by_method"]["performTransaction"] == 1
    row = record(engine, "order-1")
    assert (row.state, row.attempts) == (State.SUCCEEDED, 1)


def test_the_same_key_with_different_params_fails_with_idempotency_conflict_and_sends_nothing(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=1, concurrency=2)
    pay(producer, "order-2", amount=100).get(timeout=60)
    calls_before = simulator.stats()["calls"]
    error = error_of(pay(producer, "order-2", amount=200))
    assert type(error).__name__ == "IdempotencyConflict"
    assert "'order-2'" in str(error) and "params" in str(error)
    assert simulator.stats()["calls"] == calls_before
    assert simulator.stats()["executions"] == {"order-2": 1}


def test_the_same_key_sent_twice_at_the_same_moment_by_two_producers_executes_once(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    second_producer: Celery,
    simulator: Simulator,
) -> None:
    start_workers(processes=2, concurrency=2)
    pay(producer, "warm-up").get(timeout=60)  # the token is there: both go straight to the send
    simulator.configure(call_latency=0.5)  # the first is still at Paynet when the second comes
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def send(app: Celery) -> None:
        barrier.wait()
        results.append(pay(app, "order-3"))

    threads = [threading.Thread(target=send, args=(app,)) for app in (producer, second_producer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    values = [result.get(timeout=60) for result in results]
    assert len(values) == 2 and values[0] == values[1]
    assert simulator.stats()["executions"]["order-3"] == 1


def test_a_read_timeout_after_paynet_executed_is_reconciled_by_the_status_call_not_resent(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    workers = start_workers(processes=1, concurrency=2, env={"PAYNET_READ_TIMEOUT": "1"})
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=3)
    result = pay(producer, "order-4").get(timeout=60)
    # Its own transaction: the record Paynet's status call answered, the shape of a direct answer
    assert [result["transactionId"]] == simulator.transaction_ids("order-4")
    assert (result["status"], result["statusText"]) == ("0", "OK")
    stats = simulator.stats()
    assert stats["executions"] == {"order-4": 1}
    assert stats["calls_by_method"]["performTransaction"] == 1
    assert stats["calls_by_method"]["checkTransactionByAgentId"] >= 1
    row = record(engine, "order-4")
    assert row.state is State.SUCCEEDED
    assert "checkTransactionByAgentId found it" in (row.detail or "")
    assert "outcome in doubt: key=order-4" in workers.logs()


@pytest.mark.parametrize(
    ("fault", "sends"),
    [
        ("html_200", 2),  # an HTML page instead of the answer: it never reached the application
        ("truncated_json", 1),  # executed, and the answer cut in half
        ("wrong_id", 1),  # executed, and answered to another request's id
    ],
)
def test_a_malformed_answer_to_a_payment_is_reconciled_never_guessed(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    fault: str,
    sends: int,
) -> None:
    start_workers(processes=1, concurrency=2)
    simulator.inject_fault("resource", fault, count=1)
    result = pay(producer, "order-5").get(timeout=60)
    assert [result["transactionId"]] == simulator.transaction_ids("order-5")
    stats = simulator.stats()
    assert stats["executions"] == {"order-5": 1}
    assert stats["calls_by_method"]["performTransaction"] == sends
    assert record(engine, "order-5").state is State.SUCCEEDED


def test_without_a_status_method_a_lost_answer_ends_in_outcome_unknown_logged_at_error(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    tmp_path: Path,
) -> None:
    config = config_without_status_methods(tmp_path)
    workers = start_workers(
        processes=1,
        concurrency=2,
        env={"PAYNET_CONFIG": str(config), "PAYNET_READ_TIMEOUT": "1"},
    )
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=3)
    error = error_of(pay(producer, "order-6"))
    assert type(error).__name__ == "OutcomeUnknown"
    assert "'order-6'" in str(error)
    again = error_of(pay(producer, "order-6"))  # resubmitted: still unknown, nothing sent
    assert type(again).__name__ == "OutcomeUnknown"
    stats = simulator.stats()
    assert stats["calls_by_method"]["performTransaction"] == 1
    assert "checkTransactionByAgentId" not in stats["calls_by_method"]
    assert record(engine, "order-6").state is State.UNKNOWN
    errors = [line for line in workers.logs().splitlines() if " ERROR " in line]
    assert any("outcome unknown: key=order-6" in line for line in errors)


def test_a_paynet_error_is_recorded_as_failed_and_handed_back_without_calling_again(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    start_workers(processes=1, concurrency=2)
    bad = payment("order-7")
    bad["params"]["id"] = 7.5  # the simulator refuses a non-string, non-integer agent id
    first = error_of(producer.send_task("paynet.call", kwargs=bad))
    again = error_of(producer.send_task("paynet.call", kwargs=bad))
    assert type(first).__name__ == type(again).__name__ == "PaynetRpcError"
    assert first.args == again.args and first.args[0] == -32602
    assert simulator.stats()["calls_by_method"]["performTransaction"] == 1
    assert record(engine, "order-7").state is State.FAILED


def test_a_keyed_payment_whose_token_is_rejected_is_sent_again_after_one_refresh(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    start_workers(processes=1, concurrency=2)
    pay(producer, "warm-up").get(timeout=60)
    simulator.revoke()
    paid = pay(producer, "order-8").get(timeout=60)
    assert [paid["transactionId"]] == simulator.transaction_ids("order-8")
    stats = simulator.stats()
    assert stats["executions"]["order-8"] == 1
    assert stats["rejections"] == 1
    assert stats["logins_succeeded"] == 2
    row = record(engine, "order-8")
    assert (row.state, row.attempts) == (State.SUCCEEDED, 2)  # released after -9999, claimed again


def test_a_token_paynet_echoes_in_an_error_is_kept_neither_in_the_ledger_nor_the_result(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    redis_client: Redis,
    token_key: str,
) -> None:
    token = "tok-echo-" + token_urlsafe(16)
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", token)
    echoed = {"code": -31000, "message": f"token {token} is not valid", "data": {"token": token}}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": echoed})  # the first request's id
    simulator.inject_fault("resource", "raw", count=1, body=body)
    workers = start_workers(processes=1, concurrency=1)
    first = error_of(pay(producer, "order-9"))
    again = error_of(pay(producer, "order-9"))  # handed back from the ledger
    assert first.args == again.args == (-31000, f"token {MASK} is not valid", {"token": MASK})
    assert record(engine, "order-9").state is State.FAILED
    workers.stop()
    haystack = [
        *log_lines(worker.log_path for worker in workers.workers),
        *redis_dump(redis_client),
        *database_dump(engine),
    ]
    assert [str(hit) for hit in search(haystack, {"token": token})] == []
