"""The dedicated refresh task survives its own faults: its worker killed the moment its login
reaches Paynet, the database lost as the login succeeds, Paynet rejecting every token it issues,
another client logging in with the same credentials. Real workers, Redis, PostgreSQL and the
simulator counting logins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests
from celery import Celery
from celery.result import ResultSet

from devservices.stack import Services
from simulator import Simulator
from tests.conftest import TERMINAL_ID, USERNAME, call
from tests.support.logins import assert_only_the_refresh_task_logs_in
from tests.support.tcp_proxy import TcpProxy, postgres_target, postgres_via
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool

CALLS = 20


def test_tasks_waiting_on_another_worker_recover_within_seconds_when_the_refresher_dies_at_once(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    # Two token pools of one slot each; the payments on a pool without the token queue. The
    # first login hangs; whichever token pool took it is SIGKILLed the moment it reaches Paynet,
    # before any heartbeat: the other takes over.
    hanging = {"PAYNET_LOGIN_TIMEOUT": "60"}
    token_pools = [
        start_workers(concurrency=1, queues="paynet.token", env=hanging) for _ in range(2)
    ]
    start_workers(concurrency=8, queues="paynet,paynet.wait")
    simulator.inject_fault("login", "slow", count=1, delay=60.0)
    results = ResultSet([call(producer, params={"n": n}) for n in range(CALLS)])
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1, interval=0.005)
    wait_for(lambda: any("token refresh started" in p.logs() for p in token_pools))
    (dying,) = [p for p in token_pools if "token refresh started" in p.logs()]
    dying.workers[0].kill()  # SIGKILL, process group and all: the host is gone
    killed = time.monotonic()

    values = results.join(timeout=30)
    recovered = time.monotonic() - killed
    print(f"\nwaiting tasks succeeded {recovered:.1f} s after the refresher died (2 cores)")
    assert values == [{"n": n} for n in range(CALLS)]
    assert simulator.stats()["logins_succeeded"] == 1  # the survivor's; the hung one never ends


def test_a_login_whose_token_the_database_cannot_take_for_a_moment_is_saved_not_repeated(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    real_services: Services,
) -> None:
    proxy = TcpProxy(postgres_target(real_services.database_url)).start()
    workers = start_workers(
        concurrency=4, env={"DATABASE_URL": postgres_via(real_services.database_url, proxy)}
    )
    simulator.inject_fault("login", "slow", count=1, delay=1.0)
    results = ResultSet([call(producer, params={"n": n}) for n in range(CALLS)])
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1, interval=0.005)
    proxy.cut()  # the database is gone as Paynet issues the token
    time.sleep(3)
    proxy.start()

    assert results.join(timeout=60) == [{"n": n} for n in range(CALLS)]
    assert simulator.stats()["logins_attempted"] == 1
    assert "database fault during" in workers.logs()  # the save waited the outage out
    assert_only_the_refresh_task_logs_in(workers.logs(), 1)
    proxy.cut()


def test_paynet_rejecting_every_token_it_issues_costs_a_bounded_number_of_logins(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(concurrency=8, env={"PAYNET_LOGIN_BUDGET": "5"})
    simulator.configure(token_ttl=0.001)  # every token Paynet issues is already expired

    results = [call(producer, params={"n": n}) for n in range(CALLS)]
    errors = []
    for result in results:
        with pytest.raises(Exception) as caught:
            result.get(timeout=60)
        errors.append(caught.value)

    assert {type(error).__name__ for error in errors} == {"TokenUnavailable"}
    # Each names why: its fresh tokens were rejected too, or the budget allowed no more logins.
    named = ("rejected_after_refresh", "login_budget")
    assert all(any(cause in str(error) for cause in named) for error in errors), {
        str(error) for error in errors
    }
    assert simulator.stats()["logins_attempted"] <= 5  # the login budget, not one per task


def test_another_client_logging_in_with_the_same_credentials_costs_one_login_per_invalidation(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
) -> None:
    start_workers(concurrency=8)
    simulator.configure(invalidate_on_login=True)
    assert call(producer, params={"n": -1}).get(timeout=30) == {"n": -1}
    outside = 0
    stop = threading.Event()

    def another_client() -> None:
        nonlocal outside
        while not stop.wait(2.0):
            body = {
                "jsonrpc": "2.0",
                "method": "login",
                "id": 1,
                "params": {"username": USERNAME, "password": password, "terminal_id": TERMINAL_ID},
            }
            requests.post(simulator.login_url, json=body, timeout=5).raise_for_status()
            outside += 1

    thread = threading.Thread(target=another_client)
    thread.start()
    values = []
    try:
        for n in range(40):  # calls for about as long as five outside logins
            values.append(call(producer, params={"n": n}).get(timeout=30))
            time.sleep(0.25)
    finally:
        stop.set()
        thread.join()

    assert values == [{"n": n} for n in range(40)]
    gateway_logins = simulator.stats()["logins_succeeded"] - outside
    assert outside >= 3
    assert gateway_logins <= outside + 1  # the first, then at most one per invalidation
