"""The spec's four acceptance criteria, end to end: real workers, Redis, PostgreSQL, simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery import Celery
from celery.result import ResultSet

from simulator import Simulator
from tests.conftest import call
from tests.support.workers import WorkerPool


def test_first_call_without_a_token_logs_in_once_and_performs_the_call(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers()
    result = call(producer, params={"amount": 1}).get(timeout=30)
    assert result == {"amount": 1}
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 1
    assert stats["calls_by_method"]["echo"] == 1


def test_rejected_token_is_renewed_once_and_the_call_repeated(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers()
    call(producer).get(timeout=30)
    simulator.revoke()
    assert call(producer, params={"n": 2}).get(timeout=30) == {"n": 2}
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 2
    assert stats["rejections"] == 1
    assert stats["calls_by_method"]["echo"] == 3  # first call, rejected call, repeated call


def test_unreachable_token_endpoint_is_logged_and_described_to_the_caller(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    simulator.inject_fault("login", "down")
    workers = start_workers(env={"PAYNET_TOKEN_WAIT_TIMEOUT": "3"})
    result = call(producer)
    with pytest.raises(Exception) as caught:
        result.get(timeout=30)
    assert type(caught.value).__name__ == "TokenUnavailable"
    assert "unreachable" in str(caught.value)
    assert "profile 'default'" in str(caught.value)
    error_lines = [line for line in workers.logs().splitlines() if "ERROR" in line]
    assert any("cause=unreachable" in line and "profile=default" in line for line in error_lines)


def test_concurrent_calls_with_an_expired_token_share_one_login(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=2, concurrency=8)
    call(producer).get(timeout=30)
    simulator.revoke()
    results = ResultSet([call(producer, params={"i": i}) for i in range(50)])
    values = results.join(timeout=60)
    assert values == [{"i": i} for i in range(50)]
    assert simulator.stats()["logins_succeeded"] == 2
