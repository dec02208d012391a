"""At-least-once delivery and the faults of the parts around it: killed workers, Redis restarted,
PostgreSQL connections killed. No payment lost, none executed twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery import Celery
from redis import Redis
from sqlalchemy import Engine, text

from devservices.stack import Services
from simulator import Simulator
from tests.conftest import call
from tests.support.payments import count_states, pay, wait_until_final
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool

FAST_REDELIVERY = {"CELERY_VISIBILITY_TIMEOUT": "10"}


def executed(simulator: Simulator) -> int:
    return sum(simulator.stats()["executions"].values())


def warm_every_child(producer: Celery, count: int = 24) -> None:
    """Every pool child logs in or loads the token once, before the faults begin."""
    results = [call(producer, params={"warm": i}) for i in range(count)]
    for result in results:
        result.get(timeout=60)


def test_a_worker_killed_mid_call_has_its_payment_redelivered_and_reconciled_not_resent(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(processes=1, concurrency=1, env=FAST_REDELIVERY)
    pay(producer, "warm-up").get(timeout=60)
    simulator.configure(call_latency=2)  # the payment is at Paynet when its worker dies
    result = pay(producer, "killed-1")
    wait_for(lambda: simulator.stats()["calls_by_method"]["performTransaction"] == 2, timeout=60.0)
    workers.workers[0].kill()  # SIGKILL, whole process group: no ack, no outcome recorded
    workers.add()
    assert [result.get(timeout=90)["transactionId"]] == simulator.transaction_ids("killed-1")
    stats = simulator.stats()
    assert stats["executions"]["killed-1"] == 1
    assert stats["calls_by_method"]["performTransaction"] == 2  # warm-up and the one send
    assert stats["calls_by_method"]["checkTransactionByAgentId"] >= 1


def test_redis_restarted_mid_run_loses_no_payment_and_doubles_none(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    real_services: Services,
    redis_client: Redis,
) -> None:
    if real_services.redis is None:
        pytest.skip("needs the test session's own Redis (REDIS_URL is set)")
    start_workers(processes=2, concurrency=4, env=FAST_REDELIVERY)
    warm_every_child(producer)
    simulator.configure(call_latency=0.1)
    keys = [f"redis-{i}" for i in range(120)]
    results = [pay(producer, key) for key in keys]
    wait_for(lambda: executed(simulator) >= 30, timeout=60.0)
    # The broker keeps its queues across the restart, as a production Redis with persistence
    # does; the embedded one is started without, so ask it to save on shutdown.
    redis_client.config_set("save", "3600 1")
    real_services.redis.restart()
    assert executed(simulator) < len(keys), "the run ended before the restart"
    states = wait_until_final(engine, keys, timeout=150)
    assert count_states(states) == {"succeeded": len(keys)}
    executions = simulator.stats()["executions"]
    assert all(executions[key] == 1 for key in keys)
    for key, result in zip(keys, results, strict=True):
        assert [result.get(timeout=60)["transactionId"]] == simulator.transaction_ids(key)


def test_postgres_connections_killed_mid_run_lose_no_payment_and_double_none(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    real_services: Services,
) -> None:
    if real_services.postgres_admin_url is None:
        pytest.skip("needs PostgreSQL")
    workers = start_workers(processes=2, concurrency=4, env=FAST_REDELIVERY)
    warm_every_child(producer)
    simulator.configure(call_latency=0.05)
    keys = [f"pg-{i}" for i in range(150)]
    results = [pay(producer, key) for key in keys]
    terminated: list[int] = []

    def kill_connections() -> None:
        if len(terminated) >= 12 or executed(simulator) >= len(keys):
            return
        with engine.connect() as admin:
            count = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        terminated.append(int(count or 0))
        time.sleep(0.3)

    states = wait_until_final(engine, keys, timeout=150, while_waiting=kill_connections)
    assert sum(terminated) >= 10, f"too few connections killed: {terminated}"
    # Whether a kill lands mid-statement (logged "database fault during ...") or on an idle
    # pooled connection (replaced by pre-ping) is up to timing; both must lose nothing.
    print(
        f"connections killed {terminated}; faults met mid-statement: "
        f"{workers.logs().count('database fault during')}"
    )
    assert count_states(states) == {"succeeded": len(keys)}
    executions = simulator.stats()["executions"]
    assert all(executions[key] == 1 for key in keys)
    for key, result in zip(keys, results, strict=True):
        assert [result.get(timeout=60)["transactionId"]] == simulator.transaction_ids(key)
