"""The gevent pool: one process, hundreds of greenlets, psycopg2 made cooperative.

A real ``celery -A worker worker --pool gevent`` against the real Redis, PostgreSQL and
simulator: the spec's acceptance criteria, the storm, and a database statement that blocks one
greenlet while the others go on calling Paynet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from celery import Celery
from celery.result import ResultSet
from sqlalchemy import Engine, text

from simulator import Simulator
from tests.conftest import call
from tests.gateway.test_storm import REVOCATIONS, run_storm
from tests.support.logins import assert_only_the_refresh_task_logs_in
from tests.support.payments import ledger_states, pay
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool

GREENLETS = 100


def test_the_acceptance_criteria_hold_on_a_gevent_worker(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(pool="gevent", concurrency=GREENLETS)
    assert call(producer, params={"n": 0}).get(timeout=30) == {"n": 0}  # no token: one login
    assert simulator.stats()["logins_succeeded"] == 1
    simulator.revoke()  # rejected: renewed once, the call repeated
    values = ResultSet([call(producer, params={"i": i}) for i in range(50)]).join(timeout=60)
    assert values == [{"i": i} for i in range(50)]
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 2
    assert stats["logins_attempted"] == 2
    assert "gevent pool: psycopg2 cooperative (psycogreen), 100 slots" in workers.logs()


@pytest.mark.slow
def test_storm_on_a_gevent_worker_logs_in_once_per_revocation(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(pool="gevent", concurrency=GREENLETS)
    # A hundred slots finish the prefork storm's 240 calls before its revocations are done.
    run_storm(producer, simulator, tasks=1500)
    assert_only_the_refresh_task_logs_in(workers.logs(), 1 + REVOCATIONS)


def test_a_blocked_database_statement_does_not_block_the_other_greenlets(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    start_workers(pool="gevent", concurrency=GREENLETS)
    assert call(producer).get(timeout=30) == {}  # the token is in the process: calls need no DB
    release = threading.Event()
    locked = threading.Event()

    def hold_the_ledger() -> None:
        # Every ledger statement of the payment waits on this lock, inside one greenlet.
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE paynet_ledger IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_ledger)
    holder.start()
    try:
        assert locked.wait(10)
        payment = pay(producer, "gevent-blocked-1")
        wait_for(lambda: simulator.stats()["calls"] >= 1)  # the warm-up call only
        # While the payment's greenlet waits in PostgreSQL, the others run their calls: a
        # blocking driver would stop the whole process, and these would never finish.
        values = ResultSet([call(producer, params={"i": i}) for i in range(30)]).join(timeout=30)
        assert values == [{"i": i} for i in range(30)]
        assert not payment.ready()
        assert simulator.stats()["calls_by_method"].get("performTransaction", 0) == 0
    finally:
        release.set()
        holder.join(30)
    payment.get(timeout=30)
    assert ledger_states(engine, ["gevent-blocked-1"]) == {"gevent-blocked-1": "succeeded"}
    assert simulator.stats()["calls_by_method"]["performTransaction"] == 1
