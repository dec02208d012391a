"""Every payment's task ends with the truth, and no ledger row is left behind: real worker
processes, Redis, PostgreSQL and the simulator counting executions.

A status call that finds no token for a while, a run stopped by its soft time limit mid-send, a
run killed by its hard time limit, keys nobody will finish, and waiting tasks whose host died.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.result import ResultSet
from sqlalchemy import insert

from simulator import Simulator
from tests.support.keyed import a_key_in_doubt
from tests.support.ledger_rows import row
from tests.support.payments import pay
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool
from worker.db.tables import ledger
from worker.ledger.record import State
from worker.ledger.store import LedgerStore


def state_of(engine: Any, key: str) -> State | None:
    row = LedgerStore(engine).load(key)
    return None if row is None else row.state


def test_a_payment_whose_status_call_meets_no_token_for_a_while_ends_with_its_transaction(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(concurrency=2, env={"PAYNET_TOKEN_WAIT_TIMEOUT": "4"})
    assert pay(producer, "warm-up").get(timeout=30)["transactionId"]
    # Paynet sits on the payment 7 s (the read timeout is 5 s), then executes it; meanwhile
    # its token is revoked and every login fails, for longer than several token waits (4 s).
    simulator.inject_fault("resource", "slow", count=1, delay=7.0)
    result = pay(producer, "no-token-1")
    wait_for(lambda: simulator.stats()["calls_by_method"].get("performTransaction", 0) == 2)
    simulator.revoke()
    simulator.inject_fault("login", "down")
    time.sleep(20)
    assert not result.ready()  # neither TokenUnavailable nor ProviderUnavailable: it may be done
    simulator.clear_faults()

    value = result.get(timeout=90)
    assert value["transactionId"]
    assert simulator.stats()["executions"]["no-token-1"] == 1


def test_a_run_stopped_by_its_soft_time_limit_mid_send_is_reconciled_without_a_resubmission(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator, engine: Any
) -> None:
    # Soft limit 8 s (four fifths of 10 s), read timeout 20 s: the limit strikes mid-send.
    workers = start_workers(
        concurrency=2, env={"PAYNET_CALL_TIME_LIMIT": "10", "PAYNET_READ_TIMEOUT": "20"}
    )
    assert pay(producer, "warm-up").get(timeout=30)
    simulator.inject_fault("resource", "slow", count=1, delay=12.0)  # executes at 12 s

    value = pay(producer, "limited-1").get(timeout=90)

    assert value["transactionId"]
    assert simulator.stats()["executions"]["limited-1"] == 1
    assert state_of(engine, "limited-1") is State.SUCCEEDED
    assert "stopped by the soft time limit" in workers.logs()


def test_a_run_killed_by_its_hard_time_limit_is_requeued_and_never_reported_failed(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    # The gevent pool has no soft limit: at 10 s the run is killed mid-send.
    workers = start_workers(
        concurrency=10,
        pool="gevent",
        env={"PAYNET_CALL_TIME_LIMIT": "10", "PAYNET_READ_TIMEOUT": "20"},
    )
    assert pay(producer, "warm-up").get(timeout=30)
    simulator.inject_fault("resource", "slow", count=1, delay=12.0)
    result = pay(producer, "killed-1")
    seen: set[str] = set()
    deadline = time.monotonic() + 90
    while not result.ready() and time.monotonic() < deadline:
        seen.add(result.state)
        time.sleep(0.1)

    assert result.get(timeout=1)["transactionId"]
    assert "FAILURE" not in seen  # the producer was never told it failed
    assert simulator.stats()["executions"]["killed-1"] == 1
    assert "hard time limit" in workers.logs() and "requeued" in workers.logs()


def test_the_workers_settle_or_reopen_keys_that_no_task_will_finish(
    start_workers: Callable[..., WorkerPool], simulator: Simulator, engine: Any
) -> None:
    # Two keys left sent past their lease, their tasks gone: one Paynet executed, one it never
    # got. Nobody resubmits either.
    executed = simulator.state.perform("lost-done", 15000)
    a_key_in_doubt(engine, "lost-done")
    a_key_in_doubt(engine, "lost-never")
    with engine.begin() as conn:  # finished 40 days ago: past the retention of 30
        conn.execute(insert(ledger), [row("paid-long-ago", "succeeded", 40)])
    fast = {
        "PAYNET_LEDGER_SWEEP_INTERVAL": "1",
        "PAYNET_CALL_TIME_LIMIT": "4",
        "PAYNET_MAX_PROCESSING": "5",
    }
    workers = start_workers(processes=2, concurrency=2, env=fast)

    wait_for(lambda: state_of(engine, "lost-done") is State.SUCCEEDED, timeout=30)
    wait_for(lambda: state_of(engine, "lost-never") is State.RECEIVED, timeout=30)

    done = LedgerStore(engine).load("lost-done")
    assert done is not None and done.outcome is not None
    assert done.outcome.value["transactionId"] == executed["transactionId"]
    assert simulator.stats()["executions"] == {"lost-done": 1}  # nothing sent by the sweep
    assert "paynet.sweep_ledger" in workers.logs()
    assert LedgerStore(engine).stale() == []
    wait_for(lambda: LedgerStore(engine).load("paid-long-ago") is None, timeout=10)


def test_tasks_waiting_on_a_host_that_died_succeed_when_their_retries_come_back(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    """Their retries sit unacknowledged on the dead host until the broker's visibility timeout
    (60 s here, three times the token wait bound): they come back with wait states older than
    any wait of the gateway's own, and are served, not refused or timed out."""
    late = {"CELERY_VISIBILITY_TIMEOUT": "60", "PAYNET_LOGIN_TIMEOUT": "120"}
    doomed = start_workers(concurrency=4, env=late)
    simulator.inject_fault("login", "slow", count=1, delay=100.0)  # hangs until the host dies
    results = {f"orphan-{n}": pay(producer, f"orphan-{n}") for n in range(8)}
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1)
    wait_for(lambda: doomed.logs().count("retry") >= 4, timeout=30)
    doomed.workers[0].kill()  # SIGKILL, process group and all: the host is gone
    start_workers(concurrency=4, env=late)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(r.ready() for r in results.values()):
        time.sleep(0.5)
    # kombu's Redis transport can lose the one message its host was taking when SIGKILLed
    # (docs/delivery-guarantee.md): the producer resubmits what has no answer, under its key.
    lost = [key for key, result in results.items() if not result.ready()]
    assert len(lost) <= 1, lost
    results.update({key: pay(producer, key) for key in lost})
    values = ResultSet(list(results.values())).join(timeout=60)

    assert [value["transactionId"] for value in values]
    executions = simulator.stats()["executions"]
    assert {f"orphan-{n}": executions.get(f"orphan-{n}") for n in range(8)} == {
        f"orphan-{n}": 1 for n in range(8)
    }
