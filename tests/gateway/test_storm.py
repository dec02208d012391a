"""Invalidation storms: hundreds of calls in flight, tokens revoked mid-run, one login each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery import Celery
from celery.result import ResultSet

from simulator import Simulator
from tests.conftest import call
from tests.support.logins import assert_only_the_refresh_task_logs_in
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool

TASKS = 240
REVOCATIONS = 3


def run_storm(producer: Celery, simulator: Simulator, tasks: int = TASKS) -> None:
    """Revoke the token REVOCATIONS times while calls are in flight; each revocation must revoke
    a live token (one that a refresh is not already replacing), so K + 1 logins is exact."""
    # Each call takes Paynet 0.2 s, so the storm lasts seconds on 16 slots and every revocation
    # (after 20 more calls) lands in the middle of it, however loaded the machine is.
    simulator.configure(invalidate_on_login=True, call_latency=0.2)
    results = ResultSet([call(producer, params={"i": i}) for i in range(tasks)])
    for revocation in range(1, REVOCATIONS + 1):
        wait_for(lambda r=revocation: simulator.stats()["logins_succeeded"] == r)
        wait_for(lambda: simulator.stats()["calls"] >= 20 * simulator.stats()["logins_succeeded"])
        assert simulator.stats()["calls"] < tasks, "the storm ended before every revocation"
        wait_for(lambda: simulator.revoke() > 0)  # a live token, revoked
    values = results.join(timeout=120)
    assert values == [{"i": i} for i in range(tasks)]
    stats = simulator.stats()
    logins = {k: stats[k] for k in ("logins_attempted", "logins_succeeded", "rejections")}
    assert stats["logins_succeeded"] == 1 + REVOCATIONS, logins
    assert stats["logins_attempted"] == 1 + REVOCATIONS, logins
    assert stats["rejections"] >= REVOCATIONS


@pytest.mark.slow
def test_storm_on_two_prefork_workers_logs_in_once_per_revocation(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(processes=2, concurrency=8)
    run_storm(producer, simulator)
    assert_only_the_refresh_task_logs_in(workers.logs(), 1 + REVOCATIONS)


@pytest.mark.slow
def test_storm_on_the_threads_pool_logs_in_once_per_revocation(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(processes=1, concurrency=32, pool="threads")
    run_storm(producer, simulator)
    assert_only_the_refresh_task_logs_in(workers.logs(), 1 + REVOCATIONS)
