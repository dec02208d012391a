"""A call waiting for a token is served on the wait queue while every payment slot is busy, and
the refresh it waits for runs on a pool of its own when the operator gives it one."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool


def test_a_waiting_call_finishes_while_the_payment_queue_is_blocked(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    # One slot serves the payment queue; another worker serves the waits, a third (the token
    # pool) nothing but the refresh task.
    payments = start_workers(processes=1, concurrency=1, queues="paynet")
    waits = start_workers(processes=1, concurrency=2, queues="paynet.wait")
    token_pool = start_workers(processes=1, concurrency=1, queues="paynet.token")
    call(producer).get(timeout=30)
    simulator.inject_fault("resource", "slow", count=1, delay=4)  # under the read timeout (5 s)
    blocker = call(producer, params={"who": "blocker"})  # holds the only payment slot
    backlog = [call(producer, params={"who": n}) for n in range(3)]  # queued behind it
    wait_for(lambda: simulator.stats()["calls_by_method"]["echo"] == 2)  # the blocker is in
    simulator.revoke()

    # A call that meets the revoked token: as a retry would, it runs from the wait queue.
    waiting = producer.send_task(
        "paynet.call", kwargs={"method": "echo", "params": {"who": "waiting"}}, queue="paynet.wait"
    )

    assert waiting.get(timeout=30) == {"who": "waiting"}
    assert not blocker.ready(), "the waiting call finished only after the payment queue moved"
    assert blocker.get(timeout=30) == {"who": "blocker"}
    assert [b.get(timeout=30) for b in backlog] == [{"who": n} for n in range(3)]
    assert simulator.stats()["logins_succeeded"] == 2
    assert waiting.id in waits.logs() and waiting.id not in payments.logs()
    assert "paynet.refresh_token[" in token_pool.logs()
    assert "paynet.call[" not in token_pool.logs()  # the token pool ran refreshes only
