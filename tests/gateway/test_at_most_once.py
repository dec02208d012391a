"""A payment executes at most once when Paynet is slow, when host clocks disagree, and however a
producer routes its tasks: real workers, Redis, PostgreSQL and the simulator counting executions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.payments import pay, payment
from tests.support.workers import WorkerPool
from worker.config import load_settings
from worker.runtime import build_runtime
from worker.tokens.refresher import Refreshed


def a_token_in_store(gateway_env: dict[str, str]) -> None:
    """Log in once before the workers start, so no task waits for a token."""
    runtime = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    try:
        assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)
    finally:
        runtime.close()


def test_a_payment_paynet_holds_past_the_read_timeout_executes_once_and_returns_that_execution(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(concurrency=2)
    assert pay(producer, "warm-up").get(timeout=30)["transactionId"]
    # Paynet sits on it 7 s (the read timeout is 5 s), then executes it: "not found" until then.
    simulator.inject_fault("resource", "slow", count=1, delay=7.0)
    result = pay(producer, "slow-1").get(timeout=90)

    executions = simulator.stats()["executions"]
    assert executions["slow-1"] == 1
    # the one execution's, reconciled through the status call, never OutcomeUnknown
    assert [result["transactionId"]] == simulator.transaction_ids("slow-1")
    assert result["status"] == "0"


def test_a_payment_whose_answer_a_read_timeout_lost_ends_with_its_own_transaction_never_unknown(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(concurrency=2, env={"PAYNET_READ_TIMEOUT": "1"})
    assert pay(producer, "warm-up").get(timeout=30)["status"] == "0"
    # Paynet executes it, then holds the answer past the read timeout: the status call finds it.
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=3.0)
    result = pay(producer, "lost-4").get(timeout=90)

    assert simulator.stats()["executions"]["lost-4"] == 1
    assert simulator.stats()["calls_by_method"]["checkTransactionByAgentId"] >= 1
    # Paynet's record of that one execution, the same shape performTransaction answers
    assert result == simulator.state.by_agent_id("lost-4")
    assert "outcome unknown" not in workers.logs()


def test_the_same_slow_payment_without_a_key_is_keyed_by_its_agent_id_and_executes_once(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(concurrency=2)
    assert call(producer, params={"warm": 1}).get(timeout=30) == {"warm": 1}
    simulator.inject_fault("resource", "slow", count=1, delay=7.0)
    unkeyed = {k: v for k, v in payment("slow-2").items() if k != "idempotency_key"}
    result = producer.send_task("paynet.call", kwargs=unkeyed).get(timeout=90)

    assert simulator.stats()["executions"]["slow-2"] == 1
    assert result["idempotency_key"] == "slow-2"  # the result says which key the ledger used
    assert [result["transactionId"]] == simulator.transaction_ids("slow-2")


@pytest.mark.slow
def test_a_payment_held_past_the_processing_window_is_sent_again_as_documented(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    """The guarantee rests on the status method telling the truth once ``max_processing`` has
    passed. A Paynet that holds a payment longer than that, then executes it, breaks that
    assumption: "not found" after the window sends it again (docs/delivery-guarantee.md)."""
    start_workers(
        concurrency=2, env={"PAYNET_MAX_PROCESSING": "10", "PAYNET_CALL_TIME_LIMIT": "10"}
    )
    assert pay(producer, "warm-up").get(timeout=30)
    simulator.inject_fault("resource", "slow", count=1, delay=14.0)
    result = pay(producer, "held-3").get(timeout=90)
    time.sleep(5)  # the held request executes at 14 s

    assert simulator.stats()["executions"]["held-3"] == 2
    assert result["transactionId"] in simulator.transaction_ids("held-3")


@pytest.mark.slow
@pytest.mark.parametrize("offset", [60, -60], ids=["ahead", "behind"])
def test_two_hosts_whose_clocks_differ_by_a_minute_execute_each_payment_once(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    gateway_env: dict[str, str],
    offset: int,
) -> None:
    slow_paynet = {"PAYNET_READ_TIMEOUT": "10"}
    a_token_in_store({**gateway_env, **slow_paynet})
    start_workers(concurrency=8, env=slow_paynet)
    start_workers(
        concurrency=8,
        env={**slow_paynet, "PAYNET_TEST_CLOCK_OFFSET": str(offset)},
        app="tests.support.skewed_worker",
    )
    simulator.configure(call_latency=6.0)  # every payment takes Paynet 6 s to answer
    keys = [f"skew-{offset}-{n}" for n in range(50)]
    first = [pay(producer, key) for key in keys]
    time.sleep(1)
    second = [pay(producer, key) for key in keys]  # the producer resubmits each, 1 s later

    results = [(a.get(timeout=180), b.get(timeout=180)) for a, b in zip(first, second, strict=True)]
    simulator.configure(call_latency=0.0)
    executions = simulator.stats()["executions"]
    assert {key: executions.get(key) for key in keys} == dict.fromkeys(keys, 1)
    assert all(one == other for one, other in results)


ROUTES: dict[str, dict[str, Any]] = {
    "queue": {"queue": "paynet"},
    "exchange": {"exchange": "paynet", "routing_key": "paynet"},
    "task_routes": {},  # the producer's own task_routes, the usual Celery habit
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_way_of_routing_delivers_every_task_once(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    route: str,
) -> None:
    start_workers(concurrency=4)
    if route == "exchange":
        producer.conf.task_routes = {}
    if route == "task_routes":
        producer.conf.task_routes = {"paynet.*": {"exchange": "paynet", "routing_key": "paynet"}}
    sent = [
        producer.send_task(
            "paynet.call", kwargs={"method": "echo", "params": {"n": n}}, **ROUTES[route]
        )
        for n in range(10)
    ]
    assert [result.get(timeout=30) for result in sent] == [{"n": n} for n in range(10)]
    time.sleep(1)  # a second copy, had there been one, would have run by now
    assert simulator.stats()["calls_by_method"]["echo"] == 10


@pytest.mark.parametrize("status", [307, 302])
def test_a_redirect_is_an_error_and_its_location_is_never_contacted(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
    status: int,
) -> None:
    from simulator import Account
    from tests.conftest import TERMINAL_ID, USERNAME

    elsewhere = Simulator(accounts=[Account(USERNAME, password, str(TERMINAL_ID))]).__enter__()
    try:
        start_workers(concurrency=2)
        assert call(producer, params={"before": 1}).get(timeout=30) == {"before": 1}
        simulator.inject_fault(
            "resource", "raw", count=1, status=status, body=b"", location=elsewhere.url + "/v2/gw"
        )
        with pytest.raises(Exception) as caught:
            call(producer, params={"n": 1}).get(timeout=30)
        assert type(caught.value).__name__ == "MalformedResponse"
        host = elsewhere.url.split("//", 1)[1]
        assert f"HTTP {status}" in str(caught.value) and host in str(caught.value)
        assert simulator.stats()["calls_by_method"]["echo"] == 2  # nothing was sent again
        assert sum(elsewhere.stats()["calls_by_method"].values()) == 0
        assert elsewhere.stats()["logins_attempted"] == 0
    finally:
        elsewhere.__exit__(None, None, None)
