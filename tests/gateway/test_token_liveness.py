"""Single-flight when the refresh itself goes wrong: its worker dies mid-login, its login outlives
the lock, host clocks disagree, or someone publishes forged state. Real workers, Redis,
PostgreSQL and the simulator counting logins.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery import Celery
from celery.result import ResultSet

from simulator import Simulator
from tests.conftest import call
from tests.gateway.test_storm import run_storm
from tests.support.waiting import wait_for
from tests.support.workers import REPO_ROOT, WorkerPool
from worker.calls.refreshes import RefreshRequest, sealed_kwargs
from worker.config import load_settings
from worker.tokens.crypto import seal_from_settings


def refresh(producer: Celery, gateway_env: dict[str, str], request: RefreshRequest) -> None:
    """A refresh request sealed as a worker seals it (the test holds the workers' key)."""
    seal = seal_from_settings(load_settings(env=gateway_env).security, REPO_ROOT)
    task_id = f"test-refresh-{time.monotonic_ns()}"
    kwargs = sealed_kwargs(seal, task_id, request)
    producer.send_task("paynet.refresh_token", kwargs=kwargs, task_id=task_id, queue="paynet.token")


def test_tasks_waiting_on_a_survivor_get_a_token_seconds_after_the_refresher_dies(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    gateway_env: dict[str, str],
) -> None:
    # The refresher's host: one slot, the token queue only; the broker's visibility timeout is
    # the default, so its refresh message stays with it for minutes once it dies. Its login
    # timeout outlasts the slow login: the login hangs until the host dies (with the suite's
    # 3 s it would time out, free the slot, and the host would take waiting calls with it).
    refresher = start_workers(
        concurrency=1, queues="paynet.token", env={"PAYNET_LOGIN_TIMEOUT": "60"}
    )
    simulator.inject_fault("login", "slow", count=1, delay=20.0)
    refresh(producer, gateway_env, RefreshRequest("default", 0))
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1)
    survivor = start_workers(concurrency=8)
    results = ResultSet([call(producer, params={"n": n}) for n in range(20)])
    wait_for(lambda: "token refresh requested" in survivor.logs() or "retry" in survivor.logs())
    time.sleep(1)  # the calls are waiting for the refresh that is hanging on the dying host
    assert results.completed_count() == 0
    refresher.workers[0].kill()  # SIGKILL, process group and all: the host is gone
    killed = time.monotonic()

    values = results.join(timeout=30)
    recovered = time.monotonic() - killed
    print(f"\nwaiting tasks succeeded {recovered:.1f} s after the refresher died (2 cores)")
    assert values == [{"n": n} for n in range(20)]
    assert simulator.stats()["logins_attempted"] <= 3
    assert recovered < 20  # within seconds, not at the token wait bound (20 s here)


def test_a_login_slower_than_the_locks_life_keeps_one_login_and_a_working_token(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    simulator.configure(invalidate_on_login=True, login_latency=5.0)
    start_workers(
        processes=2,
        concurrency=8,
        env={"PAYNET_REFRESH_LIVENESS": "1.5", "PAYNET_LOGIN_TIMEOUT": "8"},
    )
    values = ResultSet([call(producer, params={"n": n}) for n in range(20)]).join(timeout=60)
    assert values == [{"n": n} for n in range(20)]
    stats = simulator.stats()
    assert stats["logins_attempted"] <= 2
    assert stats["rejections"] == 0  # the stored token is the live one
    # A login still at Paynet when the test ends would land in the next test's counters.
    wait_for(lambda: simulator.stats()["logins_succeeded"] == simulator.stats()["logins_attempted"])


@pytest.mark.slow
@pytest.mark.parametrize("offset", [60, -60], ids=["ahead", "behind"])
def test_a_storm_across_hosts_a_minute_apart_costs_one_login_per_revocation(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    offset: int,
) -> None:
    start_workers(concurrency=8)
    start_workers(
        concurrency=8,
        env={"PAYNET_TEST_CLOCK_OFFSET": str(offset)},
        app="tests.support.skewed_worker",
    )
    run_storm(producer, simulator)  # exactly K + 1 logins, every task succeeds


def test_forged_or_replayed_internal_state_is_refused_at_once_and_costs_no_login(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    gateway_env: dict[str, str],
) -> None:
    start_workers(concurrency=4)
    forged = [
        {"_wait": {"since": 1e12, "stale_generation": 10**9, "cycles": -1000}},
        {"_wait": {"since": time.time(), "stale_generation": 0, "cycles": 0}, "_seal": "00" * 32},
        {"_ledger": {"polls": -5, "checks": 0}},
    ]
    for private in forged:
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            call(producer, params={"n": 1}, **private).get(timeout=10)
        assert type(caught.value).__name__ == "InvalidRequest"
        assert next(iter(private)) in str(caught.value)  # it names _wait or _ledger
        assert time.monotonic() - started < 5
    # Refresh requests: unsealed and forced, sealed for a generation that never existed.
    producer.send_task(
        "paynet.refresh_token",
        kwargs={"profile": "default", "stale_generation": 0, "force": True},
        queue="paynet.token",
    )
    refresh(producer, gateway_env, RefreshRequest("default", 10**9))
    refresh(producer, gateway_env, RefreshRequest("default", 0, force=True))  # not the CLI's
    time.sleep(2)
    stats = simulator.stats()
    assert stats["logins_attempted"] == 0
    assert stats["calls"] == 0
